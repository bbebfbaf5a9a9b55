import functools
import os

# `make test` runs two pytest workers on two cores: one intra-op thread each (inherited by the
# subprocesses they start: the demo, examples, torchrun) rather than two threads per process
# fighting over the same two cores. Set before torch is imported.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import pytest  # noqa: E402

from nnviz3d import zoo  # noqa: E402


@functools.cache
def zoo_model(name: str):
    return getattr(zoo, name)()


@functools.cache
def zoo_graph(name: str, strategy: str | None = None):
    from nnviz3d.capture import capture_graph

    model, inputs = zoo_model(name)
    return capture_graph(model, inputs, strategies=strategy)


@pytest.fixture
def digits():
    return zoo.digits_cnn()


def run_async(coro, timeout: float = 120):
    """Run a coroutine to completion on a fresh thread: Playwright's sync API keeps an event
    loop running in the main thread for the whole session once a browser test has run."""
    import asyncio
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result(timeout=timeout)


# --- numba's UMAP code, compiled once per session ----------------------------------------------
# A fresh process compiling UMAP with a cold numba cache takes 1-2 min of a core; several test
# processes doing it at once on two cores took minutes each. The controller starts one warm-up
# process at session start (filling NUMBA_CACHE_DIR, which every test process shares); tests
# marked `umap` run last and wait for it, and then load the compiled code (~10 s).

_WARM_SCRIPT = (
    "import sys\n"
    "from pathlib import Path\n"
    "status = 'skipped'\n"
    "try:\n"
    "    from nnviz3d.extras import available\n"
    "    if available('umap'):\n"
    "        from nnviz3d.embed.methods import warm_up\n"
    "        status = f'warm {warm_up():.1f} s'\n"
    "except Exception as exc:\n"
    "    status = f'failed: {exc}'\n"
    "Path(sys.argv[1]).write_text(status)\n"
)


def _numba_env() -> dict:
    from nnviz3d.embed.worker import CACHE

    env = dict(os.environ)
    env.setdefault("NUMBA_CACHE_DIR", str(CACHE))  # as the embedding worker does
    return env


def pytest_sessionstart(session):
    import subprocess
    import sys
    import tempfile

    if hasattr(session.config, "workerinput") or os.environ.get("NNVIZ3D_UMAP_WARM"):
        return  # an xdist worker: the controller started it (its path is in the environment)
    marker = os.path.join(tempfile.mkdtemp(prefix="nnviz3d-warm-"), "done")
    os.environ["NNVIZ3D_UMAP_WARM"] = marker  # inherited by the workers started after this
    env = {**_numba_env(), "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    session.config._umap_warm = subprocess.Popen(
        [sys.executable, "-c", _WARM_SCRIPT, marker], env=env, stdin=subprocess.DEVNULL
    )


def pytest_collection_modifyitems(config, items):
    """Tests that fit UMAP run after the others (stable order otherwise), so the warm-up has
    finished by the time they start."""
    items.sort(key=lambda item: item.get_closest_marker("umap") is not None)


def pytest_runtest_setup(item):
    if item.get_closest_marker("umap") is None:
        return
    import time

    marker = os.environ.get("NNVIZ3D_UMAP_WARM")
    deadline = time.monotonic() + 600
    while marker and not os.path.exists(marker) and time.monotonic() < deadline:
        time.sleep(0.2)


def pytest_sessionfinish(session):
    proc = getattr(session.config, "_umap_warm", None)
    if proc is not None and proc.poll() is None:
        proc.kill()


# --- work shared by the xdist workers ----------------------------------------------------------
def shared_dir(tmp_path_factory, name: str, build) -> "os.PathLike":
    """A folder that ``build(folder)`` fills once per test session, whichever worker asks first;
    a worker that asks while another builds it waits (a file lock), and then reads it. A
    module-scoped fixture would be built once per worker that runs one of the module's tests."""
    import fcntl
    import shutil

    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the session's folder, shared by its workers
    folder = base / f"shared-{name}"
    with open(base / f"shared-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / ".done").exists():
            shutil.rmtree(folder, ignore_errors=True)  # a build that failed half-way
            folder.mkdir()
            build(folder)
            (folder / ".done").touch()
    return folder
