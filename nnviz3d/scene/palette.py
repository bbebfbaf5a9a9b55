"""Colours by what a block does, with the legend that explains them (sRGB)."""

from __future__ import annotations

CATEGORIES: dict[str, tuple[tuple[float, float, float], tuple[str, ...]]] = {
    "convolution": ((0.25, 0.52, 0.90), ("conv",)),
    "linear": (
        (0.95, 0.60, 0.20),
        ("linear", "conv1d_hf", "addmm", "mm", "matmul", "bmm", "einsum"),
    ),
    "attention": ((0.62, 0.40, 0.90), ("attention", "attn", "scaled_dot_product")),
    "normalisation": ((0.45, 0.75, 0.55), ("norm",)),
    "activation": (
        (0.95, 0.85, 0.30),
        (
            "relu",
            "gelu",
            "silu",
            "sigmoid",
            "tanh",
            "softmax",
            "activation",
            "elu",
            "swish",
            "mish",
        ),
    ),
    "embedding": ((0.20, 0.75, 0.75), ("embedding",)),
    "pooling": ((0.55, 0.65, 0.85), ("pool",)),
    "merge": ((0.92, 0.92, 0.92), ("add", "cat", "mul", "sub", "stack", "div")),
    "input/output": ((0.35, 0.85, 0.35), ("input", "output")),
    "group": ((0.70, 0.70, 0.78), ()),
    "other": ((0.62, 0.62, 0.62), ()),
}


def category(kind: str, *, collapsed_group: bool = False) -> str:
    k = kind.lower()
    if k == "conv1d":  # transformers' Conv1D is a linear layer with transposed weights
        return "linear"
    for name, (_, keys) in CATEGORIES.items():
        if any(key in k for key in keys):
            return name
    return "group" if collapsed_group else "other"


def color(kind: str, *, collapsed_group: bool = False) -> tuple[float, float, float]:
    return CATEGORIES[category(kind, collapsed_group=collapsed_group)][0]


def legend() -> dict[str, tuple[float, float, float]]:
    return {name: rgb for name, (rgb, _) in CATEGORIES.items()}
