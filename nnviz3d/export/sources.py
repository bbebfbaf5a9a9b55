"""What an export starts from, normalised at the boundary: a captured graph, a recording, a
model (``nn.Module`` or ``(module, example_inputs)``), or a string naming a run file, a model
file or a SPEC. Every failure is an :class:`ExportError` with one sentence saying what to do."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from ..graph import Graph
from ..record.run_file import RunFileError, is_run_file
from ..record.run_reader import RunReader


class ExportError(ValueError):
    """Input that cannot be exported; the message says what was wrong and what to do."""


@dataclass
class ExportSource:
    graph: Graph
    reader: RunReader | None = None
    """The recording, when exporting a run (stats, weight maps, animation)."""
    weights: tuple[dict, dict] | None = None
    """A decoded probe frame holding the model's weight matrices (a live model's weights)."""
    owned: bool = False
    """The reader was opened here (from a path) and is closed after the export."""

    def close(self) -> None:
        if self.owned and self.reader is not None:
            self.reader.close()


def resolve(obj, example_inputs=None) -> ExportSource:
    if isinstance(obj, ExportSource):
        return obj
    if isinstance(obj, Graph):
        return ExportSource(obj)
    if isinstance(obj, RunReader):
        return ExportSource(obj.graph(), reader=obj)
    if isinstance(obj, (str, Path)):
        return _from_string(str(obj))
    if _is_module(obj) or (isinstance(obj, tuple) and len(obj) == 2 and _is_module(obj[0])):
        model, inputs = obj if isinstance(obj, tuple) else (obj, example_inputs)
        return from_model(model, inputs)
    raise ExportError(
        f"cannot export a {type(obj).__name__}: pass an nn.Module, a "
        f"(module, example_inputs) pair, a Graph, a RunReader, or the path of a "
        f"run (.nnv3d) or model file"
    )


def open_run(path: str) -> RunReader:
    try:
        return RunReader(path)
    except RunFileError as exc:
        raise ExportError(str(exc)) from None


def _from_string(spec: str) -> ExportSource:
    if is_run_file(spec):
        reader = open_run(spec)
        return ExportSource(reader.graph(), reader=reader, owned=True)
    if not spec.endswith(".py") and Path(spec).is_file():
        from ..capture.formats import ModelFileError, open_model_file

        try:
            graph = open_model_file(spec)
        except ModelFileError as exc:
            raise ExportError(str(exc)) from None
        return source_of(graph, model_file=spec)
    from ..capture import CaptureError
    from ..capture.spec import SpecError, load_spec

    try:
        model, inputs = load_spec(spec)
    except (SpecError, CaptureError, TypeError, ValueError) as exc:
        raise ExportError(str(exc)) from None
    return from_model(model, inputs)


def from_model(model, example_inputs=None) -> ExportSource:
    """Capture ``model``'s graph and, unless it lives on the meta device, its weight maps
    (downsampled exactly as a live probe frame carries them)."""
    from ..capture import CaptureError, capture_graph

    try:
        graph = capture_graph(model, example_inputs)
    except (CaptureError, TypeError, ValueError) as exc:
        raise ExportError(str(exc)) from None
    return ExportSource(graph, weights=model_weights(model, graph))


def source_of(graph: Graph, model=None, model_file: str | None = None) -> ExportSource:
    """An already captured graph with the weights of its live ``model`` or ``model_file``."""
    if model is not None:
        return ExportSource(graph, weights=model_weights(model, graph))
    if model_file is not None:
        from ..capture.formats import ModelFileError
        from ..capture.weight_frame import file_weights

        try:
            return ExportSource(graph, weights=_weights_of(file_weights(model_file)))
        except ModelFileError as exc:
            raise ExportError(str(exc)) from None
    return ExportSource(graph)


def model_weights(model, graph: Graph) -> tuple[dict, dict] | None:
    """The decoded weight frame of a module's parameters (None on the meta device)."""
    from ..capture.weight_frame import module_weights

    if any(p.is_meta for p in model.parameters()):
        return None  # topology only: a meta-device model has no values
    return _weights_of(module_weights(model))


def _weights_of(groups) -> tuple[dict, dict] | None:
    from ..capture.weight_frame import weight_frame
    from ..protocol.probe_frame import decode_probe

    header, arrays = decode_probe(weight_frame(groups))
    return (header, arrays) if header.get("matrices") else None


def _is_module(obj) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.nn.Module)
