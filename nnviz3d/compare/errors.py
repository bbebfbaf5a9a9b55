"""The one error of nnviz3d compare."""


class CompareError(ValueError):
    """Two runs or models that cannot be compared; the message says why."""
