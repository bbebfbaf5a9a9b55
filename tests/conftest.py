import functools

import pytest

from nnviz3d import zoo


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
