"""Running node on a user's Inngest app to read what its SDK would register.

:func:`collect` starts ``node collect.mjs`` (package data beside this module) on one or
more modules of the app. Node resolves the ``inngest`` package from the first module's
folder as that module's own imports do, so the SDK that answers is the app's, at the
app's version; TypeScript is loaded with the app's ``tsx`` or ``typescript``. The
collector reports, for each module, the functions its exports lead to with the SDK's own
registration output (``getConfig``, as ``serve()`` calls it) and the names of the options
each was created with. It writes to a result file, never stdout (the app's code may print),
and always exits, even when the app leaves a server running; a module that has not loaded
within ``timeout`` seconds is stopped with its whole process group.

Every failure (node missing, no SDK or one older than v3, no transpiler for TypeScript, a
module that throws while loading) is a :class:`~flowsim.errors.ScenarioError` naming the
module and saying what to do.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Sequence

from flowsim.errors import ScenarioError

TYPESCRIPT = (".ts", ".tsx", ".mts", ".cts")
JAVASCRIPT = (".js", ".mjs", ".cjs")
MODULES = TYPESCRIPT + JAVASCRIPT
TIMEOUT = 120.0          # seconds a module may take to load
_STDERR_SHOWN = 600      # characters of node's stderr quoted when it failed without a report
_HERE = str(Path(__file__).resolve().parent)


@dataclass(frozen=True)
class AppFunction:
    """One function of the app: where it was found, its app's id, the option names it was
    created with, and its registration (the function, then an ``onFailure`` handler if any)."""

    export: str
    app: str | None
    options: tuple[str, ...]
    configs: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class Collected:
    """What the collector found in one module, and which SDK (and transpiler) read it."""

    file: str
    sdk: str                 # "inngest 4.24.0"
    transpiler: str | None   # "typescript 6.0.3", "tsx 4.19.2", None for JavaScript
    exports: tuple[str, ...]
    functions: tuple[AppFunction, ...]


def collect(files: Sequence[str | os.PathLike[str]], timeout: float = TIMEOUT) -> list[Collected]:
    """The functions of each module in ``files``, loaded in one node process (in order).

    The SDK and transpiler are resolved from the first module's folder; node runs in the
    nearest folder above it with a ``package.json`` (the app's root, as ``npm run`` would).
    """
    paths = [Path(f) for f in files]
    first = paths[0]
    for path in paths:
        if not path.is_file():
            raise ScenarioError("no such file" if not path.exists() else "not a file", file=str(path))
    node = shutil.which("node")
    if node is None:
        raise ScenarioError("node is not on PATH: flowsim import runs the app's Inngest SDK with Node.js; "
                            "install Node.js 20 or later, or import the registration JSON the app sends when it "
                            "syncs", file=str(first))
    script = resources.files("flowsim.sdk").joinpath("collect.mjs")
    with tempfile.TemporaryDirectory(prefix="flowsim-import-") as tmp, resources.as_file(script) as collector:
        result = Path(tmp) / "result.json"
        cmd = [node, "--enable-source-maps", str(collector), str(result), *(str(p.resolve()) for p in paths)]
        stderr, code = _run(cmd, _project_root(first), timeout, first)
        if not result.exists():
            tail = stderr.strip()[-_STDERR_SHOWN:]
            raise ScenarioError(f"node stopped (exit code {code}) before reporting: {tail or 'no message'}",
                                file=str(first))
        report = json.loads(result.read_text(encoding="utf-8"))
    if "error" in report:
        raise ScenarioError(_setup_message(report["error"]), file=str(first))
    sdk = f"inngest {report['sdk']['version']}"
    tr = report.get("transpiler")
    transpiler = f"{tr['name']} {tr['version']}".strip() if tr else None
    out = []
    for path, module in zip(paths, report["modules"]):
        if "error" in module:
            raise ScenarioError(_module_message(module["error"], sdk, transpiler), file=str(path))
        functions = tuple(AppFunction(f["export"], f.get("app"), tuple(f["options"]), tuple(f["config"]))
                          for f in module["functions"])
        out.append(Collected(str(path), sdk, transpiler, tuple(module["exports"]), functions))
    return out


def _project_root(file: Path) -> Path:
    """The nearest folder above ``file`` holding a ``package.json``, else its own folder."""
    folder = file.resolve().parent
    for candidate in (folder, *folder.parents):
        if (candidate / "package.json").is_file():
            return candidate
    return folder


def _run(cmd: list[str], cwd: Path, timeout: float, first: Path) -> tuple[str, int]:
    """Run the collector in its own process group; its stderr and exit code."""
    proc = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise ScenarioError(f"the module did not finish loading within {timeout:g} s (it may wait for a "
                            "connection or ask for input while it loads); import a module that only creates "
                            "the client and the functions", file=str(first)) from None
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return err.decode("utf-8", "replace"), proc.returncode


def _setup_message(error: dict[str, Any]) -> str:
    """What was missing to load the app at all, and what to install."""
    kind = error["kind"]
    if kind == "no-sdk":
        return (f"no `inngest` package is installed for this module (looked up from {error['from']} as node "
                "does): install the app's dependencies (npm install), or add the SDK (npm install inngest)")
    if kind == "old-sdk":
        return (f"inngest {error['version']} ({error['dir']}) is too old: flowsim import reads the function "
                "configuration of the TypeScript SDK v3 and v4; upgrade the app's SDK (npm install inngest@latest)")
    if kind == "no-transpiler":
        return (f"this is TypeScript, and neither `tsx` nor `typescript` is installed for it (looked up from "
                f"{error['from']}): npm install --save-dev typescript (or tsx), or import the compiled JavaScript")
    if kind == "old-node":
        return (f"node {error['node']} cannot load TypeScript through module hooks (they need Node.js 20.6 or "
                "later): upgrade Node.js, install tsx in the app, or import the compiled JavaScript")
    if kind == "transpiler":
        return f"{error['name']} could not be started: {_first_line(error['message'])}"
    return f"the collector failed: {error}"


def _module_message(error: dict[str, Any], sdk: str, transpiler: str | None) -> str:
    """Why a module could not be read: it threw while loading, or the SDK refused a function."""
    where = _location(error.get("stack", ""))
    at = f" (at {where})" if where else ""
    if error["kind"] == "load":
        message = _first_line(error["message"])
        hint = ""
        if "ERR_MODULE_NOT_FOUND" in message and transpiler and transpiler.startswith("typescript"):
            hint = (" (typescript transpiles file by file and knows no tsconfig.json path aliases: "
                    "npm install --save-dev tsx, which does)")
        return (f"the module threw while node loaded it: {message}{at}{hint}; flowsim runs it as node would, so "
                "it must load without errors (fix it, or import the module that creates the functions)")
    return f"{sdk} could not build a function's registration: {_first_line(error['message'])}{at}"


def _first_line(text: str) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[0] if lines else "no message"


def _location(stack: str) -> str | None:
    """The first frame of a stack in the app's files (not node's, flowsim's or a package's)."""
    for line in stack.splitlines():
        line = line.strip()
        if not line.startswith("at "):
            continue
        frame = line[3:]
        if "(" in frame and frame.endswith(")"):
            frame = frame[frame.rindex("(") + 1:-1]
        if frame.startswith("file://"):
            frame = frame[len("file://"):]
        if (frame.startswith("node:") or "/node_modules/" in frame or frame.endswith(">")
                or frame.startswith(_HERE) or not frame.startswith("/")):
            continue
        return frame
    return None
