"""Real Inngest SDKs for the export and import tests: npm installs them once per test run.

``project(name)`` is a folder with ``node_modules`` holding the packages of ``PROJECTS[name]``
(the real ``inngest`` of a major version, ``typescript``, ``tsx``), installed with npm from
the registry into a cache folder the first time a test asks for it. The cache is
``$FLOWSIM_NPM_CACHE`` when set (to keep installs between runs while developing), else a
folder of pytest's temporary area shared by the xdist workers of one run; a file lock makes
one worker install while the other waits. Tests are skipped only when npm is absent; an
install that fails is a test error.

``app(tmp_path, *packages)`` makes ``tmp_path`` an app folder: its ``node_modules`` holds
links to installed (or packed) packages, so node resolves them from the app's files as in a
real project.
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

PROJECTS = {
    "inngest-4": ("inngest@4", "typescript@6"),
    "inngest-3": ("inngest@3", "typescript@6"),
    "tsx": ("tsx@4",),
    "inngest-3.20": ("inngest@3.20.0",),     # an older v3: no singleton, no timeouts, getConfig(url, prefix)
}


def cache_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the projects are installed: shared by every worker of one run."""
    if os.environ.get("FLOWSIM_NPM_CACHE"):
        return Path(os.environ["FLOWSIM_NPM_CACHE"])
    base = tmp_path_factory.getbasetemp()
    return (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "flowsim-npm"


def project(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """The folder of an installed project (installing it the first time)."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed")
    root = cache_root(tmp_path_factory)
    root.mkdir(parents=True, exist_ok=True)
    folder = root / name
    marker = folder / ".flowsim-installed"
    specs = list(PROJECTS[name])
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (marker.exists() and json.loads(marker.read_text()) == specs):
            folder.mkdir(exist_ok=True)
            (folder / "package.json").write_text(json.dumps({"name": f"flowsim-test-{name}", "private": True}))
            done = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--ignore-scripts",
                                   "--loglevel=error", *specs], cwd=folder, capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"npm install {' '.join(specs)} failed:\n{done.stderr[-3000:]}")
            marker.write_text(json.dumps(specs))
    return folder


def packed(tmp_path_factory: pytest.TempPathFactory, spec: str) -> Path:
    """The files of one package as npm packs it, without its dependencies (``npm pack``):
    enough for what reads only its ``package.json``."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed")
    root = cache_root(tmp_path_factory)
    root.mkdir(parents=True, exist_ok=True)
    folder = root / f"pack-{spec.replace('@', '-')}"
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / "package" / "package.json").exists():
            folder.mkdir(exist_ok=True)
            done = subprocess.run([npm, "pack", "--silent", "--pack-destination", str(folder), spec],
                                  capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"npm pack {spec} failed:\n{done.stderr[-3000:]}")
            tarball = folder / done.stdout.strip().splitlines()[-1]
            shutil.unpack_archive(tarball, folder)
    return folder / "package"


def version(folder: Path, package: str) -> str:
    return json.loads((folder / "node_modules" / package / "package.json").read_text())["version"]


def app(tmp_path: Path, *packages: Path) -> Path:
    """``tmp_path`` as an app whose ``node_modules`` links the given package folders (by the
    names in their package.json): node resolves them from the app's files as in a real project."""
    modules = tmp_path / "node_modules"
    modules.mkdir(exist_ok=True)
    for package in packages:
        link = modules / json.loads((package / "package.json").read_text())["name"]
        if not link.exists():
            link.symlink_to(package, target_is_directory=True)
    (tmp_path / "package.json").write_text('{"name": "app", "private": true, "type": "module"}')
    return tmp_path


def package(folder: Path, name: str) -> Path:
    """The folder of package ``name`` installed in the project ``folder``."""
    return folder / "node_modules" / name


def tsc(folder: Path, cwd: Path, files: list[str]) -> subprocess.CompletedProcess[str]:
    """``tsc --strict --noEmit`` of ``files`` with the project's TypeScript, in one invocation."""
    return subprocess.run(["node", str(folder / "node_modules" / "typescript" / "bin" / "tsc"), "--strict",
                           "--noEmit", "--skipLibCheck", "--target", "es2022", "--module", "esnext",
                           "--moduleResolution", "bundler", *files], cwd=cwd, capture_output=True, text=True)
