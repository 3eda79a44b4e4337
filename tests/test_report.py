"""Reports: files, first lines, and every figure loaded in a real browser."""
from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest
from typer.testing import CliRunner

from flowsim.cli import app

SCENARIO = "scenarios/ai-summary.yaml"


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("rep") / "ai"
    result = CliRunner().invoke(app, ["report", SCENARIO, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_report_files_and_first_lines(report_dir):
    names = sorted(p.name for p in report_dir.iterdir())
    assert names == ["binding.png", "index.html", "latency-cdf.png", "latency-over-time.png",
                     "per-key-latency.png", "queue-and-slots.png", "report.md"]
    md = (report_dir / "report.md").read_text().splitlines()
    assert md[0] == "# flowsim report: ai-summary"
    assert md[2].startswith("**Answer:** p99 start latency ")
    assert "binding constraint: concurrency:\"openai\"" in md[2]
    page = (report_dir / "index.html").read_text()
    assert page.index("Answer:") < page.index("<img")
    assert "seeds</b>: 11" in page and "flowsim</b>: 0.1.0" in page


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]


def test_every_figure_loads_in_headless_chromium(report_dir, tmp_path):
    browser = _chromium()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs Debian's chromium package)")
        pytest.skip("chromium not installed")
    url = (report_dir / "index.html").resolve().as_uri()
    profile = ["--user-data-dir=" + str(tmp_path / "profile")]
    dom = subprocess.run([browser, *FLAGS, *profile, "--dump-dom", url], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    images = re.findall(r"<img[^>]*>", dom)
    assert len(images) == 5
    assert all('data-loaded="1"' in img for img in images), "a figure did not load"
    shot = tmp_path / "shot.png"
    subprocess.run([browser, *FLAGS, *profile, f"--screenshot={shot}", "--window-size=1000,2400", url],
                   capture_output=True, timeout=120, check=True)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
