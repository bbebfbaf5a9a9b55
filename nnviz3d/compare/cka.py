"""Cross-model CKA for ``nnviz3d compare``: the linear CKA (nnviz3d/analysis/cka.py) between
every layer of A and every layer of B on the same probe inputs, as one cross CKA frame
(nnviz3d/protocol/cka_frame.py) that the viewer shows beside A's scene. Which layers of a
fine-tuned model still represent what the base model did: a bright diagonal where they do.

Two runs: each recording's newest CKA frame that carries features (a run watched with
``inputs=`` and ``embed=`` records them at its final step when they are small); the inputs
must be the same set (same count; the recordings do not say which inputs they were, so that
is the caller's word). Two models: their probed layers' features of ``inputs`` computed here.
When the features are missing, the frame holds no matrix and its note says why: nothing is
invented.
"""

from __future__ import annotations

from ..analysis.cka import cross_cka
from ..protocol.cka_frame import CKA_KEY, CkaFrameError, check_cka, encode_cka, features_of
from ..record import RunReader

NO_STEP = -1
"""The step a cross frame is kept under: it holds for the whole comparison."""


def _newest_features(reader: RunReader) -> tuple[int, list[str], list] | str:
    """``(step, layers, features)`` of the newest CKA frame with features, or why there is
    none (one phrase)."""
    rows = [(seq, step) for seq, step, layer in reader.embedding_index() if layer == CKA_KEY]
    if not rows:
        return "records no layer similarity (watch() with inputs= and embed= records it)"
    for seq, step in sorted(rows, key=lambda r: (r[1], r[0]), reverse=True):
        try:
            header, arrays = check_cka(reader.embedding(seq))
        except CkaFrameError:
            continue  # a damaged frame is skipped, never shown
        feats = features_of(header, arrays)
        if feats is not None:
            return step, header["layers"], feats
    return "records no features with its layer similarity (they were too large to keep)"


def runs_cross_frame(a: RunReader, b: RunReader) -> bytes:
    """The cross CKA frame of two recordings (empty, with the reason, when either lacks
    features or they are of different probe sets)."""
    fa, fb = _newest_features(a), _newest_features(b)
    missing = [f"{side} {f}" for side, f in (("A", fa), ("B", fb)) if isinstance(f, str)]
    if missing:
        return empty_frame("no cross-model CKA: " + "; ".join(missing))
    (sa, la, xa), (sb, lb, xb) = fa, fb
    if len(xa[0]) != len(xb[0]):
        return empty_frame(
            f"no cross-model CKA: A's features are of {len(xa[0])} probe inputs and B's of "
            f"{len(xb[0])}; CKA compares the same inputs"
        )
    matrix = cross_cka(xa, xb)
    note = (
        f"A's features at step {sa} x B's at step {sb}, {len(xa[0])} probe inputs "
        f"(assumed the same set in both runs)"
    )
    return encode_cka(NO_STEP, la, matrix, layers_b=lb, note=note)


def models_cross_cka(model_a, model_b, inputs, layers_a=None, layers_b=None):
    """``(matrix, layers_a, layers_b)``: CKA between the layers of two models on ``inputs``
    (default layers: each model's leaf modules in registration order, at most 48 each)."""
    from ..embed.cka_service import thinned
    from ..embed.features import layer_features

    def leaves(model):
        return [p for p, m in model.named_modules() if p and not any(True for _ in m.children())]

    la = thinned(list(layers_a) if layers_a is not None else leaves(model_a))
    lb = thinned(list(layers_b) if layers_b is not None else leaves(model_b))
    fa = layer_features(model_a, inputs, la)
    fb = layer_features(model_b, inputs, lb)
    la, lb = [p for p in la if p in fa], [p for p in lb if p in fb]
    return cross_cka([fa[p] for p in la], [fb[p] for p in lb]), la, lb


def models_cross_frame(model_a, model_b, inputs) -> bytes:
    matrix, la, lb = models_cross_cka(model_a, model_b, inputs)
    note = f"features of {len(inputs)} probe inputs through both models"
    return encode_cka(NO_STEP, la, matrix, layers_b=lb, note=note)


def empty_frame(note: str) -> bytes:
    import numpy as np

    return encode_cka(NO_STEP, [], np.zeros((0, 0), np.float32), layers_b=[], note=note)


def specs_cross_frame(spec_a: str, spec_b: str, inputs) -> bytes:
    """The cross CKA frame of two models given as SPECs on ``inputs`` (a tensor or a
    ``torch.save`` file of one); an empty frame saying why when it cannot be computed."""
    from pathlib import Path

    if inputs is None:
        return empty_frame(
            "no cross-model CKA: no probe inputs given (nnviz3d compare A B --inputs FILE)"
        )
    files = [s for s in (spec_a, spec_b) if not s.endswith(".py") and Path(s).is_file()]
    if files:
        return empty_frame(
            f"no cross-model CKA: {files[0]} is a model file (weights only); the cross-model "
            f"CKA runs both models, so give them as SPECs"
        )
    import torch

    from ..capture.spec import load_spec

    if isinstance(inputs, (str, Path)):
        inputs = torch.load(inputs, map_location="cpu", weights_only=True)  # no code runs
    if not isinstance(inputs, torch.Tensor) or inputs.dim() < 1 or len(inputs) < 2:
        return empty_frame("no cross-model CKA: the probe inputs are not a tensor of 2+ inputs")
    model_a, _ = load_spec(spec_a)
    model_b, _ = load_spec(spec_b)
    return models_cross_frame(model_a, model_b, inputs)
