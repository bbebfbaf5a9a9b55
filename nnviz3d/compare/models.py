"""``nnviz3d compare MODEL_A MODEL_B``: two models' weights, overlaid on A's scene.

A and B are model files (safetensors, ONNX, state_dict, TorchScript, .pt2) or SPECs. Each
matched layer (nnviz3d/compare/matching.py) gets B's weight statistics minus A's, so colouring
by weight norm shows where the weights moved; where the two weight tensors have the same shape,
the layer's weight map is the element-wise difference B - A (fine-tuning shows which weights
changed, pruning shows the removed ones as -w). Typical uses: a model before and after
fine-tuning, a pruned model against its original, two checkpoints of one run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..protocol.probe_frame import encode_probe
from .errors import CompareError
from .matching import match_layers, shared_enough
from .runs import compare_header, match_report

if TYPE_CHECKING:  # the weight helpers import torch: only where weights are diffed
    from ..capture.weight_frame import Groups


def load_model(spec: str):
    """``(graph, weights)`` of a model file or SPEC; CompareError with the reason if not."""
    from pathlib import Path

    from ..capture import CaptureError, capture_graph
    from ..capture.formats import ModelFileError, open_model_file
    from ..capture.spec import SpecError, load_spec
    from ..capture.weight_frame import file_weights, module_weights

    try:
        if not spec.endswith(".py") and Path(spec).is_file():
            return open_model_file(spec), unpruned(file_weights(spec))
        model, example_inputs = load_spec(spec)
        if any(p.is_meta for p in model.parameters()):
            raise CompareError(
                f"{spec}: its weights are on the meta device (no values), so "
                f"there is nothing to compare; build it with real weights"
            )
        return capture_graph(model, example_inputs), module_weights(model)
    except (ModelFileError, SpecError, CaptureError) as exc:
        raise CompareError(str(exc)) from None


def unpruned(groups: Groups) -> Groups:
    """Weights as the model uses them: a copy pruned with ``torch.nn.utils.prune`` (and not
    ``prune.remove``-d) saves ``weight_orig`` and ``weight_mask``; its weight is their product."""
    out = {}
    for module, params in groups.items():
        params = dict(params)
        for name in [k for k in params if k.endswith("_orig")]:
            base = name[: -len("_orig")]
            mask = params.get(f"{base}_mask")
            if mask is not None and mask.shape == params[name].shape and base not in params:
                params[base] = params.pop(name) * params.pop(f"{base}_mask")
        out[module] = params
    return out


def diff_models(
    spec_a: str, graph_a, weights_a: Groups, spec_b: str, graph_b, weights_b: Groups
) -> tuple[bytes, dict]:
    """One probe frame (step 0) of B - A per matched layer, and a report of what matched."""
    import torch  # model side only (DESIGN.md): importing nnviz3d.compare stays light

    with torch.no_grad():
        return _diff_models(spec_a, graph_a, weights_a, spec_b, graph_b, weights_b)


def _diff_models(
    spec_a: str, graph_a, weights_a: Groups, spec_b: str, graph_b, weights_b: Groups
) -> tuple[bytes, dict]:
    from ..capture.weight_frame import weight_kind

    pairs = {
        pa: pb
        for pa, pb in match_layers(graph_a, graph_b).items()
        if pa in weights_a and pb in weights_b
    }
    if not pairs or not shared_enough(graph_a, graph_b, pairs):
        raise CompareError(
            f"{spec_a} ({graph_a.model}) and {spec_b} ({graph_b.model}) share "
            f"too few layers with weights (by path or by structure): compare "
            f"needs two versions of one architecture"
        )
    kind_a = weight_kind({pa: weights_a[pa] for pa in pairs})
    kind_b = weight_kind({pa: weights_b[pb] for pa, pb in pairs.items()})
    kind = {
        "step": 0,
        "modules": kind_a["modules"],
        "stats": kind_b["stats"] - kind_a["stats"],
        "hist": kind_b["hist"],
        "range": kind_b["range"],
    }
    matrices = []
    for pa, pb in pairs.items():
        matrices += _difference_maps(pa, weights_a[pa], weights_b[pb])
    extra = {"compare": compare_header(spec_a, spec_b, pairs, color="weight_norm")}
    data = encode_probe(0, 0.0, "train", {}, {"weight": kind}, matrices, extra=extra)
    report = match_report(graph_a, graph_b, pairs)
    report["changed"] = _changed(pairs, weights_a, weights_b)
    return data, report


def _difference_maps(module: str, a: dict, b: dict) -> list[dict]:
    """The weight and bias maps of B - A where both have the same shape."""
    from ..capture.probes import downsample_matrix, weight_matrix
    from ..capture.weight_frame import main_bias, main_weight

    out = []
    wa, wb = main_weight(a), main_weight(b)
    if wa is not None and wb is not None and wa[1].shape == wb[1].shape:
        m = weight_matrix(wb[1].float() - wa[1].float())
        out.append(
            {
                "module": module,
                "param": "weight",
                **m,
                "method": f"B - A, {m['method']}",
                "data": m["data"].numpy(),
            }
        )
    ba, bb = main_bias(a), main_bias(b)
    if ba is not None and bb is not None and ba[1].shape == bb[1].shape:
        data, method = downsample_matrix((bb[1].float() - ba[1].float())[None])
        out.append(
            {
                "module": module,
                "param": "bias",
                "full_shape": list(ba[1].shape),
                "method": f"B - A, {method}",
                "data": data.numpy(),
            }
        )
    return out


def _changed(pairs: dict[str, str], wa: Groups, wb: Groups) -> dict[str, float]:
    """``{layer in A: ||B - A|| / ||A||}`` over the parameters with equal shapes."""
    import torch

    out = {}
    for pa, pb in pairs.items():
        num = den = 0.0
        for (_, ta), (_, tb) in zip(sorted(wa[pa].items()), sorted(wb[pb].items())):
            if ta.shape == tb.shape:
                num += float(torch.sum((tb.float() - ta.float()) ** 2))
                den += float(torch.sum(ta.float() ** 2))
        out[pa] = float(np.sqrt(num / den)) if den > 0 else float("nan")
    return out


def serve_models(spec_a: str, spec_b: str, *, depth=None, quiet=False, inputs=None, **serving):
    """Serve A's scene coloured by B - A; returns the view handle (``handle.compare``).
    ``inputs``: probe inputs both models take (a tensor or a ``torch.save`` file) for the
    cross-model CKA (nnviz3d/compare/cka.py). ``serving``: view()'s host, port,
    open_browser, token and tls."""
    from ..protocol.probe_frame import decode_probe
    from ..record.run_file import MATRICES
    from ..server import LiveFeed
    from ..viewer import view

    graph_a, weights_a = load_model(spec_a)
    graph_b, weights_b = load_model(spec_b)
    data, report = diff_models(spec_a, graph_a, weights_a, spec_b, graph_b, weights_b)
    feed = LiveFeed()
    header, _ = decode_probe(data)
    feed.ingest(data, 0, list(header["kinds"]) + ([MATRICES] if header["matrices"] else []))
    from ..record.run_file import EMBEDDING
    from .cka import NO_STEP, empty_frame, specs_cross_frame

    try:
        cka = specs_cross_frame(spec_a, spec_b, inputs)
    except Exception as exc:  # noqa: BLE001 - e.g. inputs a model does not take: said, not fatal
        cka = empty_frame(f"no cross-model CKA: {type(exc).__name__}: {exc}"[:400])
    feed.ingest(cka, NO_STEP, [EMBEDDING])
    if not quiet:
        from .runs import say_matched

        moved = sorted(report["changed"].items(), key=lambda kv: -np.nan_to_num(kv[1]))[:3]
        print(
            f"nnviz3d compare: {len(report['changed'])} layers with weights compared (B - A); "
            f"{say_matched(report)}; most changed: " + ", ".join(f"{m} {v:.3g}" for m, v in moved),
            flush=True,
        )
    handle = view(graph=graph_a, depth=depth, quiet=quiet, feed=feed, **serving)
    handle.compare = report
    return handle
