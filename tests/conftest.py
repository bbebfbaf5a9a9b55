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
