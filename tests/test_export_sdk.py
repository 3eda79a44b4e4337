"""`flowsim export ts` against the real SDK: every shipped scenario and variant typechecks
with ``tsc --strict --noEmit`` against ``inngest@4`` (the default shape) and ``inngest@3``
(``--sdk v3``), all files of one SDK in one tsc invocation.

npm installs the packages once per run (tests/sdk_projects.py). Each invocation also checks
one file in the other SDK's shape, which must fail with TS2554 (wrong number of arguments):
proof that the check reads the SDK's types rather than passing everything.
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

from flowsim.analysis.overrides import BASE, parse_assignment, variants_of
from flowsim.errors import ScenarioWarning
from flowsim.export import load_for_export, to_typescript
from flowsim.scenario.load import load_scenario
from flowsim.scenario.source import load_yaml
from tests import sdk_projects
from tests.test_export import EVERYTHING

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))
CLIENT = 'import { Inngest } from "inngest";\nexport const inngest = new Inngest({ id: "flowsim" });\n'
#: An override long enough that YAML would wrap it, and a name with JavaScript line breaks:
#: the header comment must stay a comment.
LONG_SET = ("functions.send.policies=[{policy: rate_limit, algorithm: fixed_window, mode: delay, limit: 10, "
            "period: 1m, key: event.data.user}]")


def shipped_variants() -> list[tuple[Path, str]]:
    out = []
    for path in SHIPPED:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ScenarioWarning)
            sc = load_scenario(path)
        _, source = load_yaml(path.read_text(encoding="utf-8"), str(path))
        out += [(path, v) for v in (BASE, *variants_of(sc.raw, source))]
    return out


def exports(sdk: str) -> dict[str, str]:
    """File name -> TypeScript of every shipped scenario and variant, and of extra cases."""
    files = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ScenarioWarning)
        for path, variant in shipped_variants():
            sc, applied = load_for_export(path, variant)
            files[f"{path.stem}__{variant}.ts"] = to_typescript(sc, variant=variant, overrides=applied, sdk=sdk)
        rate = ROOT / "scenarios" / "compare-rate-limit-algorithms.yaml"
        sc, applied = load_for_export(rate, BASE, [parse_assignment(LONG_SET)])
        files["long-set.ts"] = to_typescript(sc, overrides=applied, sdk=sdk)
        odd = {**EVERYTHING, "name": "line\u2028break\u2029name"}
        files["every-option.ts"] = to_typescript(load_scenario(odd), sdk=sdk)
    return files


def typecheck(tmp_path_factory, tmp_path: Path, inngest: str, sdk: str, other: str) -> None:
    typescript = sdk_projects.package(tmp_path_factory, "typescript")
    app = sdk_projects.app(tmp_path, sdk_projects.package(tmp_path_factory, inngest), typescript)
    (app / "client.ts").write_text(CLIENT)
    files = exports(sdk)
    assert len(files) >= 25
    for name, text in files.items():
        (app / name).write_text(text)
    user_sync = load_scenario(ROOT / "scenarios" / "user-sync.yaml")
    (app / "wrong-shape.ts").write_text(to_typescript(user_sync, sdk=other))
    done = sdk_projects.tsc(typescript, app, ["client.ts", "wrong-shape.ts", *files])
    errors = [line for line in done.stdout.splitlines() if re.match(r"\S+\(\d+,\d+\): error", line)]
    failing = sorted({line.split("(")[0] for line in errors})
    assert failing == ["wrong-shape.ts"], done.stdout
    assert "error TS2554" in done.stdout


def test_every_shipped_variant_typechecks_against_inngest_4(tmp_path_factory, tmp_path):
    typecheck(tmp_path_factory, tmp_path, "inngest", "v4", "v3")


def test_every_shipped_variant_typechecks_against_inngest_3_with_sdk_v3(tmp_path_factory, tmp_path):
    typecheck(tmp_path_factory, tmp_path, "inngest-v3", "v3", "v4")


def test_the_sdks_are_the_majors_asked_for(tmp_path_factory):
    assert sdk_projects.version(sdk_projects.package(tmp_path_factory, "inngest")).startswith("4.")
    assert sdk_projects.version(sdk_projects.package(tmp_path_factory, "inngest-v3")).startswith("3.")


@pytest.mark.parametrize("sdk", ["v4", "v3"])
def test_the_long_override_header_is_all_comments(sdk):
    text = exports(sdk)["long-set.ts"]
    header = text.split("\n\nimport")[0].splitlines()
    assert all(line.startswith("//") for line in header), header
    assert any("mode: delay" in line for line in header)
