"""Cost of the layer-similarity (CKA) views: GPT-2 small (transformers ``GPT2Config()`` default
sizes: 12 blocks, 768 wide; random init, CPU, eval mode), its 12 block outputs on 1,000 probe
inputs of 32 random tokens each.

Run: .venv/bin/python bench/cka.py [--inputs 1000] [--tokens 32] [--threads 2] [--repeat 3]
     [--no-digits]

Times, separately: collecting the features (nnviz3d/embed/features.py ``layer_features``: the
probe set's forward pass with hooks; each block's (N, 32, 768) output averaged over tokens, as
the embedding service collects it, so (1000, 768) per block), the 12 x 12 CKA matrix from those
features (nnviz3d/analysis/cka.py ``cka_matrix``, which picks the Gram route here), the 3D map
of the layers (``cka_map``), and the CKA frame that is published and recorded. GPT2Model (no
LM head: its 50,257-wide logits are not a probed layer) is what runs. Then the same on the
demo's digits CNN: what taking the CKA layers adds to the embedding's features pass on the
training thread.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--inputs", type=int, default=1000)
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--no-digits", dest="digits", action="store_false", help="skip the digits CNN part"
    )
    args = ap.parse_args()

    import numpy as np
    import torch
    from transformers import GPT2Config, GPT2Model

    from nnviz3d.analysis.cka import cka_map, cka_matrix, route
    from nnviz3d.embed.features import layer_features
    from nnviz3d.protocol.cka_frame import encode_cka

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = GPT2Config()
    model = GPT2Model(config).eval()
    layers = [f"h.{i}" for i in range(config.n_layer)]
    tokens = torch.randint(0, config.vocab_size, (args.inputs, args.tokens))

    start = time.perf_counter()
    feats = layer_features(model, tokens, layers)
    collect_s = time.perf_counter() - start
    xs = [feats[p] for p in layers]

    matrix_s, map_s, frame_s = [], [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        m, undefined = cka_matrix(xs)
        t1 = time.perf_counter()
        points = cka_map(m)
        t2 = time.perf_counter()
        frame = encode_cka(0, layers, m, points, undefined)
        t3 = time.perf_counter()
        matrix_s.append(t1 - t0)
        map_s.append(t2 - t1)
        frame_s.append(t3 - t2)
    digits = _digits_pass(args.repeat) if args.digits else None
    off = m[~np.eye(len(m), dtype=bool)]
    print(
        json.dumps(
            {
                "model": "GPT2Model(GPT2Config()) random init",
                "inputs": args.inputs,
                "tokens": args.tokens,
                "threads": args.threads,
                "feature_shape": list(xs[0].shape),
                "route": route(args.inputs, [x.shape[1] for x in xs]),
                "collect_s": round(collect_s, 2),
                "matrix_ms": round(1000 * statistics.median(matrix_s), 1),
                "map_ms": round(1000 * statistics.median(map_s), 2),
                "frame_ms": round(1000 * statistics.median(frame_s), 2),
                "frame_bytes": len(frame),
                "cka_offdiag_min_max": [round(float(off.min()), 3), round(float(off.max()), 3)],
                "adjacent_mean": round(float(np.mean(np.diag(m, 1))), 3),
                "digits": digits,
            }
        )
    )


def _digits_pass(repeat: int) -> dict:
    """The training thread's share on the demo's digits CNN (360 validation digits): the
    features pass for the embedded layer alone (``pool``) against the pass that also takes the
    14 probed layers for CKA, and the CKA thread's matrix + map + frame."""
    import torch

    from nnviz3d.analysis.cka import cka_map, cka_matrix
    from nnviz3d.data.digits import load_digits_tensors
    from nnviz3d.embed.features import layer_features
    from nnviz3d.zoo import DigitsCNN

    torch.manual_seed(0)
    model = DigitsCNN()
    _, (xv, _) = load_digits_tensors()
    probed = [p for p, m in model.named_modules() if p and not any(True for _ in m.children())]
    probed.insert(probed.index("head.0"), "pool") if "pool" not in probed else None

    def timed(fn):
        out = []
        for _ in range(repeat + 1):
            t = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t)
        return 1000 * statistics.median(out[1:])

    feats = layer_features(model, xv, probed)
    xs = [feats[p] for p in probed]
    return {
        "layers": len(probed),
        "inputs": len(xv),
        "embed_only_pass_ms": round(timed(lambda: layer_features(model, xv, ["pool"])), 2),
        "with_cka_layers_pass_ms": round(timed(lambda: layer_features(model, xv, probed)), 2),
        "cka_matrix_map_ms": round(timed(lambda: cka_map(cka_matrix(xs)[0])), 2),
    }


if __name__ == "__main__":
    main()
