"""Real Inngest SDKs for the export and import tests: npm installs them once per test run.

:func:`package` gives the folder of one package of :data:`PACKAGES`, all installed by one
``npm install`` (the two SDK majors and an older v3 under npm aliases, so that their shared
dependencies are installed once) from the registry into a cache folder, the first time a
test asks for one. The cache is ``$FLOWSIM_NPM_CACHE`` when set (to keep the install between
runs while developing), else a folder of pytest's temporary area shared by the xdist
workers of one run; a file lock makes one worker install while the other waits. Tests are
skipped only when npm is absent; an install that fails is a test error.

:func:`app` makes a test's folder an app: its ``node_modules`` links the packages it is
given under their own names (``inngest-v3`` is linked as ``inngest``), so node and tsc
resolve them from the app's files as in a real project, and see nothing else.
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

#: Folder name in node_modules -> what npm installs there (``npm:`` an alias).
PACKAGES = {
    "inngest": "inngest@4",
    "inngest-v3": "npm:inngest@3",
    "inngest-v3.20": "npm:inngest@3.20.0",   # an older v3: no singleton or timeouts, getConfig(url, prefix)
    "typescript": "typescript@6",
    "tsx": "tsx@4",
}


def cache_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the packages are installed: shared by every worker of one run."""
    if os.environ.get("FLOWSIM_NPM_CACHE"):
        return Path(os.environ["FLOWSIM_NPM_CACHE"])
    base = tmp_path_factory.getbasetemp()
    return (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "flowsim-npm"


def _npm() -> str:
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed")
    return npm


def package(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """The folder of the installed package ``name`` (a key of :data:`PACKAGES`)."""
    npm = _npm()
    root = cache_root(tmp_path_factory)
    root.mkdir(parents=True, exist_ok=True)
    folder = root / "sdks"
    marker = folder / ".flowsim-installed"
    specs = [f"{alias}@{spec}" if spec.startswith("npm:") else spec for alias, spec in PACKAGES.items()]
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (marker.exists() and json.loads(marker.read_text()) == specs):
            folder.mkdir(exist_ok=True)
            (folder / "package.json").write_text(json.dumps({"name": "flowsim-test-sdks", "private": True}))
            done = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--ignore-scripts",
                                   "--loglevel=error", *specs], cwd=folder, capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"npm install {' '.join(specs)} failed:\n{done.stderr[-3000:]}")
            marker.write_text(json.dumps(specs))
    return folder / "node_modules" / name


def packed(tmp_path_factory: pytest.TempPathFactory, spec: str) -> Path:
    """The files of one package as npm packs it, without its dependencies (``npm pack``):
    enough for what reads only its ``package.json``."""
    npm = _npm()
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


def version(package_folder: Path) -> str:
    return json.loads((package_folder / "package.json").read_text())["version"]


def app(tmp_path: Path, *packages: Path) -> Path:
    """``tmp_path`` as an app whose ``node_modules`` links the given package folders, each
    under the name in its package.json."""
    modules = tmp_path / "node_modules"
    modules.mkdir(exist_ok=True)
    for folder in packages:
        link = modules / json.loads((folder / "package.json").read_text())["name"]
        if not link.exists():
            link.symlink_to(folder, target_is_directory=True)
    (tmp_path / "package.json").write_text('{"name": "app", "private": true, "type": "module"}')
    return tmp_path


def tsc(typescript: Path, cwd: Path, files: list[str]) -> subprocess.CompletedProcess[str]:
    """``tsc --strict --noEmit`` of ``files`` with that TypeScript, in one invocation."""
    return subprocess.run(["node", str(typescript / "bin" / "tsc"), "--strict", "--noEmit", "--skipLibCheck",
                           "--target", "es2022", "--module", "esnext", "--moduleResolution", "bundler", *files],
                          cwd=cwd, capture_output=True, text=True)
