"""The build hook; the project's metadata lives in pyproject.toml.

Every sdist and wheel build first makes sure ``nnviz3d/viewer_dist`` (the three.js viewer) is
built from ``web/`` and no older than its sources: ``npm ci`` when ``web/node_modules`` is
missing, then ``npm run build``. Without npm, a tree that already holds a built viewer (an
sdist, which carries both) builds as is; one without fails with one sentence instead of
making a wheel whose ``nnviz3d view`` answers 503.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist
from setuptools.errors import BaseError

ROOT = Path(__file__).resolve().parent
WEB_SOURCES = (
    "package.json",
    "package-lock.json",
    "index.html",
    "vite.config.ts",
    "tsconfig.json",
    "src",
)
"""What the viewer is built from, below ``web/`` (a folder counts by its newest file)."""
VIEWER = Path("nnviz3d") / "viewer_dist" / "index.html"


class ViewerBuildError(BaseError):
    """The viewer cannot be built; setuptools prints the message and the build stops."""


def viewer_state(root: Path) -> str:
    """'current', 'stale' (a source is newer than the built viewer), 'missing' or 'no web'
    (no ``web/`` to build from; then the built viewer is what there is)."""
    index = root / VIEWER
    web = root / "web"
    if not (web / "package.json").is_file():
        return "current" if index.is_file() else "no web"
    if not index.is_file():
        return "missing"
    built = index.stat().st_mtime
    return "stale" if _newest(web / name for name in WEB_SOURCES) > built else "current"


def build_viewer(root: Path = ROOT, env: dict | None = None, log=None) -> str:
    """Build the viewer in ``root/web`` when it is missing or stale; returns the state found.
    Raises ViewerBuildError when a wheel would lack the viewer."""
    root = Path(root)
    log = log or _say
    env = dict(os.environ if env is None else env)
    state = viewer_state(root)
    if state == "current":
        return state
    if state == "no web":
        raise ViewerBuildError(
            f"nnviz3d: {root} holds neither the built viewer ({VIEWER}) nor its sources (web/) "
            "to build it from; build from a git clone or from the sdist"
        )
    npm = shutil.which("npm", path=env.get("PATH", ""))
    if npm is None:
        if state == "stale":
            log(
                f"nnviz3d: npm is not on PATH; packaging the existing {VIEWER.parent}, which "
                "is older than web/'s sources"
            )
            return state
        raise ViewerBuildError(
            "nnviz3d: building the package needs the 3D viewer built from web/, but npm is "
            "not on PATH and nnviz3d/viewer_dist does not exist: install Node.js 20 or newer "
            "(https://nodejs.org) and build again"
        )
    web = root / "web"
    if not (web / "node_modules").exists():
        _npm([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], web, env, log)
    _npm([npm, "run", "--silent", "build"], web, env, log)
    if not (root / VIEWER).is_file():
        raise ViewerBuildError(f"nnviz3d: `npm run build` in {web} did not write {VIEWER}")
    return state


def _npm(command: list[str], web: Path, env: dict, log) -> None:
    log(f"nnviz3d: building the viewer: {' '.join(command[1:])} (in {web})")
    done = subprocess.run(command, cwd=web, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip()[-3000:]
        raise ViewerBuildError(
            f"nnviz3d: `npm {' '.join(command[1:])}` failed in {web} "
            f"(exit {done.returncode}):\n{tail}"
        )


def _newest(paths) -> float:
    newest = 0.0
    for path in paths:
        if path.is_dir():
            for file in path.rglob("*"):
                if file.is_file():
                    newest = max(newest, file.stat().st_mtime)
        elif path.is_file():
            newest = max(newest, path.stat().st_mtime)
    return newest


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class BuildPyWithViewer(build_py):
    def run(self) -> None:
        build_viewer(ROOT, log=_say)
        super().run()


class SdistWithViewer(sdist):
    def run(self) -> None:
        build_viewer(ROOT, log=_say)
        super().run()


if __name__ == "__main__":
    setup(cmdclass={"build_py": BuildPyWithViewer, "sdist": SdistWithViewer})
