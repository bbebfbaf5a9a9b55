"""A replay's answers to the viewer's model requests, from what the run recorded.

During a run each answered request (inspect with a saliency method, feature visualisation,
landscape) is recorded with its arguments and the step of the model it was computed on
(nnviz3d/live/model_requests.py, ``RunWriter.append_request``). In the replay the same
request (same kind and arguments) is answered with the newest recorded answer at or before
the shown step, byte for byte (its frame says its step). Anything else needs the model, which
a replay does not have: the answer is the reason and what the replay has instead.
:class:`RecordedRequests` stands where a live run's ``ModelRequests`` stands in the feed.
"""

from __future__ import annotations

import threading

from .run_reader import RecordedRequest, RunReader

METHODS = {
    "none": "the layer outputs",
    "gradient": "gradient saliency",
    "gradient_x_input": "gradient × input",
    "grad_cam": "Grad-CAM",
}


class RecordedRequests:
    replay = True
    idle = True
    labels: list = []

    def __init__(
        self, reader_factory, rows: list[RecordedRequest], inputs: int | None = None
    ) -> None:
        self.reader_factory = reader_factory
        self.rows = rows
        self._reader: RunReader | None = None
        self._lock = threading.Lock()
        indices = [r.args[0] for r in rows if r.kind == "inspect"]
        self.inputs = sorted(set(indices))
        """The probe inputs with a recorded answer."""
        self.count = max([inputs or 1, *(i + 1 for i in indices)])
        """The run's probe inputs (``probe_inputs``), so the panel counts as live did."""
        self.can_landscape = True  # the answer to a landscape request says why, if it cannot
        self.has_landscape = any(r.kind == "landscape" for r in rows)
        self.features = sorted({(r.args[0], r.args[1]) for r in rows if r.kind == "feature"})
        """The ``(module, unit)`` pairs with a recorded feature visualisation."""

    def find(self, kind: str, args: tuple, step: int | None) -> RecordedRequest | None:
        """The newest recorded answer to ``kind(args)`` at or before ``step`` (None: any)."""
        best = None
        for r in self.rows:
            if r.kind == kind and r.args == tuple(args) and (step is None or r.step <= step):
                if best is None or (r.step, r.seq) >= (best.step, best.seq):
                    best = r
        return best

    def request(self, kind: str, args: tuple, reply, progress=None, step: int | None = None):
        found = self.find(kind, args, step)
        if found is None:
            reply(None, self.reason(kind, args, step))
            return
        try:
            with self._lock:
                if self._reader is None:
                    self._reader = self.reader_factory()
                data = self._reader.request_frame(found)
        except ValueError as exc:  # RunFileError: the recording is damaged there
            reply(None, str(exc))
            return
        reply(data, None)

    def reason(self, kind: str, args: tuple, step: int | None) -> str:
        what = describe_one(kind, tuple(args))
        later = [r.step for r in self.rows if r.kind == kind and r.args == tuple(args)]
        if later:
            return (
                f"{what} was recorded at step {min(later)}, after the shown step {step}; "
                f"move the timeline there"
            )
        return f"{what} is computed live only; {self.describe()}"

    def describe(self) -> str:
        """What this replay can answer, in words: "this replay has Grad-CAM for inputs 3,
        5; a landscape (21 × 21) at step 40"."""
        if not self.rows:
            return "this replay has no recorded model requests"
        parts = []
        by_method: dict[str, set[int]] = {}
        for r in self.rows:
            if r.kind == "inspect":
                by_method.setdefault(r.args[1], set()).add(r.args[0])
        for method, idx in by_method.items():
            s = "s" if len(idx) > 1 else ""
            parts.append(
                f"{METHODS.get(method, _clip(method))} for input{s} "
                f"{', '.join(map(str, sorted(idx)))}"
            )
        feats = sorted({(r.args[0], r.args[1]) for r in self.rows if r.kind == "feature"})
        if feats:
            parts.append(
                "feature visualisation of "
                + ", ".join(f"{_clip(m)} unit {u}" for m, u in feats[:8])
                + (" …" if len(feats) > 8 else "")
            )
        lands = sorted({(r.args[0], r.step) for r in self.rows if r.kind == "landscape"})
        for steps, at in lands[:4]:
            parts.append(f"a landscape ({steps} × {steps}) at step {at}")
        return "this replay has " + "; ".join(parts)


def describe_one(kind: str, args: tuple) -> str:
    if kind == "inspect":
        index, method, target = args
        for_ = f" for class {target}" if method != "none" and target >= 0 else ""
        return f"{METHODS.get(method, _clip(method))}{for_} of input {index}"
    if kind == "feature":
        return f"feature visualisation of {_clip(args[0])} unit {args[1]}"
    return f"a landscape of {args[0]} × {args[0]} points"


def _clip(name: str, limit: int = 60) -> str:
    """A recorded name in a sentence: shown as text by the viewer, shortened here."""
    name = str(name)
    return name if len(name) <= limit else name[: limit - 1] + "…"
