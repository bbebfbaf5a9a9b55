"""Scene paths mirror module paths: ``layer1.0.conv2`` -> ``/model/layer1/0/conv2``."""

from __future__ import annotations

ROOT = "/model"


def scene_path(module_path: str) -> str:
    return ROOT if not module_path else f"{ROOT}/{module_path.replace('.', '/')}"


def edge_path(src: str, dst: str) -> str:
    """One path segment per edge: the dotted module paths joined by ``>``."""
    return f"/edges/{src or '(root)'}>{dst or '(root)'}"
