"""A corpus of hostile model files, built in a folder from real saves (``torch.save``,
``torch.export.save``, ``torch.jit.save``, ``onnx.helper``) then tampered with: nothing is
committed as a binary. Every builder returns the path it wrote; a payload, when unpickled,
creates :func:`marker`'s file, so a test proves code never ran by its absence."""

from __future__ import annotations

import io
import json
import pickle
import struct
import zipfile
from collections import OrderedDict
from pathlib import Path

import torch

BIG = 200_000
"""The stride-0 tensor is BIG x BIG float32: 160 GB the moment anything materialises it."""


class Payload:
    """Unpickling this creates ``marker``: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def marker(folder: Path) -> Path:
    return folder / "PWNED"


def torch_saved(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def payload_pt(folder: Path) -> bytes:
    """A ``torch.save`` zip whose data.pkl runs the payload."""
    return torch_saved(Payload(marker(folder)))


def payload_pickle(folder: Path) -> bytes:
    return pickle.dumps(Payload(marker(folder)), protocol=2)


class _Small(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(4, 3)
        self.register_buffer("scale", torch.ones(3))
        self.shift = torch.full((3,), 0.5)  # a lifted tensor constant

    def forward(self, x):
        return self.fc(x) * self.scale + self.shift


def small_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return _Small().eval()


def good_pt2(folder: Path) -> Path:
    path = folder / "good.pt2"
    if not path.exists():
        ep = torch.export.export(small_model(), (torch.randn(1, 4),))
        torch.export.save(ep, path)
    return path


def rewrite_zip(src: Path, dst: Path, change=None, extra=()) -> Path:
    """Copy zip ``src`` to ``dst``: ``change(name, data)`` returns new data (``None`` drops
    the entry); ``extra`` is ``(name, data)`` pairs appended (duplicates allowed)."""
    import warnings

    with zipfile.ZipFile(src) as a, zipfile.ZipFile(dst, "w") as b, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are the point of some files
        for info in a.infolist():
            data = a.read(info)
            if change is not None:
                data = change(info.filename, data)
            if data is not None:
                b.writestr(info.filename, data)
        for name, data in extra:
            b.writestr(name, data)
    return dst


def _entries(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {i.filename.partition("/")[2]: z.read(i) for i in z.infolist()}


def _configs(change_weights=None, change_constants=None):
    def change(name, data):
        if name.endswith("_weights_config.json") and change_weights:
            config = json.loads(data)
            change_weights(config["config"])
            return json.dumps(config).encode()
        if name.endswith("_constants_config.json") and change_constants:
            config = json.loads(data)
            change_constants(config["config"])
            return json.dumps(config).encode()
        return data

    return change


# -- .pt2: a payload in every place torch.export.load may unpickle --------------------------
def pt2_pickled_weight(folder: Path) -> Path:
    """A weight saved "with pickle": torch.load(weights_only=False) in _load_state_dict."""
    evil = payload_pt(folder)

    def flag(config):
        config["fc.weight"]["use_pickle"] = True

    def change(name, data):
        if name.endswith("data/weights/weight_0"):
            return evil
        return _configs(flag)(name, data)

    return rewrite_zip(good_pt2(folder), folder / "pickled_weight.pt2", change)


def pt2_pickled_constant(folder: Path) -> Path:
    """A tensor constant saved "with pickle": torch.load(weights_only=False)."""
    evil = payload_pt(folder)

    def flag(config):
        for meta in config.values():
            meta["use_pickle"] = True

    def change(name, data):
        if "data/constants/tensor_" in name:
            return evil
        return _configs(change_constants=flag)(name, data)

    return rewrite_zip(good_pt2(folder), folder / "pickled_constant.pt2", change)


def pt2_opaque_constant(folder: Path) -> Path:
    """An opaque object constant: pickle.loads."""

    def add(config):
        config["evil"] = {"path_name": "opaque_obj_0", "is_param": False, "use_pickle": True}

    return rewrite_zip(
        good_pt2(folder),
        folder / "opaque.pt2",
        _configs(change_constants=add),
        extra=[("good/data/constants/opaque_obj_0", payload_pickle(folder))],
    )


def pt2_custom_object(folder: Path) -> Path:
    """A script object constant: torch._C._pickle_load_obj."""

    def add(config):
        config["evil"] = {"path_name": "custom_obj_0", "is_param": False, "use_pickle": True}

    return rewrite_zip(
        good_pt2(folder),
        folder / "custom_obj.pt2",
        _configs(change_constants=add),
        extra=[("good/data/constants/custom_obj_0", payload_pt(folder))],
    )


def pt2_sample_inputs(folder: Path) -> Path:
    """Sample inputs that fail weights-only: torch retries with weights_only=False."""
    evil = payload_pt(folder)
    return rewrite_zip(
        good_pt2(folder),
        folder / "sample_inputs.pt2",
        lambda n, d: evil if "data/sample_inputs/" in n else d,
    )


def pt2_duplicate_entry(folder: Path) -> Path:
    """Sample inputs twice: torch's reader takes the first (the payload), zipfile the last."""
    evil = payload_pt(folder)
    clean = _entries(good_pt2(folder))["data/sample_inputs/model.pt"]
    return rewrite_zip(
        good_pt2(folder),
        folder / "duplicate.pt2",
        lambda n, d: None if "data/sample_inputs/" in n else d,
        extra=[
            ("good/data/sample_inputs/model.pt", evil),
            ("good/data/sample_inputs/model.pt", clean),
        ],
    )


def pt2_legacy_fallback(folder: Path) -> Path:
    """load_pt2 fails (no archive_version), so torch.export.load reads the 2.7 layout at the
    top level: serialized_*.pt, loaded weights-only first, then without it."""
    from torch._export.serde.schema import SCHEMA_VERSION

    evil = payload_pt(folder)
    program = _entries(good_pt2(folder))["models/model.json"]
    return rewrite_zip(
        good_pt2(folder),
        folder / "legacy_fallback.pt2",
        lambda n, d: None if n.endswith("archive_version") else d,
        extra=[
            ("version", ".".join(map(str, SCHEMA_VERSION)).encode()),
            ("serialized_exported_program.json", program),
            ("serialized_state_dict.pt", evil),
            ("serialized_constants.pt", evil),
            ("serialized_example_inputs.pt", evil),
        ],
    )


def pt2_legacy_weights(folder: Path) -> Path:
    """data/weights/model.pt: the legacy weights file, deserialized with the unsafe retry."""
    return rewrite_zip(
        good_pt2(folder),
        folder / "legacy_weights.pt2",
        extra=[("good/data/weights/model.pt", payload_pt(folder))],
    )


def pt2_legacy_constants(folder: Path) -> Path:
    return rewrite_zip(
        good_pt2(folder),
        folder / "legacy_constants.pt2",
        extra=[("good/data/constants/model.pt", payload_pt(folder))],
    )


def pt2_sympy_eval(folder: Path) -> Path:
    """A symbolic size whose expression sympy.sympify would eval."""
    code = f"__import__('builtins').open({str(marker(folder))!r}, 'w') and s0"

    def change(name, data):
        if not name.endswith("models/model.json"):
            return data
        program = json.loads(data)
        values = program["graph_module"]["graph"]["tensor_values"]
        first = next(iter(values.values()))
        first["sizes"][0] = {"as_expr": {"expr_str": code, "hint": {"as_int": 1}}}
        return json.dumps(program).encode()

    return rewrite_zip(good_pt2(folder), folder / "sympy_eval.pt2", change)


def pt2_aoti(folder: Path) -> Path:
    """An AOTInductor package entry: load_pt2 would dlopen a shared library from it."""
    return rewrite_zip(
        good_pt2(folder),
        folder / "aoti.pt2",
        extra=[("good/data/aotinductor/model/model.so", b"\x7fELF" + bytes(60))],
    )


def pt2_missing_version(folder: Path) -> Path:
    return rewrite_zip(
        good_pt2(folder),
        folder / "no_version.pt2",
        lambda n, d: None if n.endswith("archive_version") else d,
    )


def pt2_file_operator(folder: Path) -> Path:
    """A graph node calling aten.save (writes a file when the graph runs)."""

    def change(name, data):
        if not name.endswith("models/model.json"):
            return data
        program = json.loads(data)
        node = program["graph_module"]["graph"]["nodes"][0]
        node["target"] = "torch.ops.aten.save.default"
        return json.dumps(program).encode()

    return rewrite_zip(good_pt2(folder), folder / "file_operator.pt2", change)


PT2_PAYLOADS = {
    "pickled_weight": pt2_pickled_weight,
    "pickled_constant": pt2_pickled_constant,
    "opaque_constant": pt2_opaque_constant,
    "custom_object": pt2_custom_object,
    "sample_inputs": pt2_sample_inputs,
    "duplicate_entry": pt2_duplicate_entry,
    "legacy_fallback": pt2_legacy_fallback,
    "legacy_weights": pt2_legacy_weights,
    "legacy_constants": pt2_legacy_constants,
    "sympy_eval": pt2_sympy_eval,
}
"""Each plants the payload where torch.export.load would unpickle or eval it."""


# -- files whose shapes claim more than their bytes hold ------------------------------------
def expanded() -> torch.Tensor:
    """BIG x BIG float32 on a single element: stride (0, 0)."""
    return torch.ones(1).expand(BIG, BIG)


def state_dict_expanded(folder: Path) -> Path:
    path = folder / "expanded.pt"
    torch.save({"fc.weight": expanded(), "fc.bias": torch.zeros(3)}, path)
    return path


def legacy_expanded(folder: Path) -> Path:
    path = folder / "expanded_legacy.pth"
    torch.save({"fc.weight": expanded()}, path, _use_new_zipfile_serialization=False)
    return path


def checkpoint_expanded(folder: Path) -> Path:
    path = folder / "expanded.ckpt"
    torch.save({"epoch": 1, "state_dict": {"fc.weight": expanded()}}, path)
    return path


class _Expanded(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(4, 3)
        self.register_buffer("table", expanded())

    def forward(self, x):
        return self.fc(x)


def torchscript_expanded(folder: Path) -> Path:
    path = folder / "expanded_script.pt"
    torch.jit.save(torch.jit.script(_Expanded()), path)
    return path


def pt2_expanded(folder: Path) -> Path:
    """fc.weight's tensor_meta claims BIG x BIG with strides 0 over its 48 bytes."""

    def grow(config):
        meta = config["fc.weight"]["tensor_meta"]
        meta["sizes"] = [{"as_int": BIG}, {"as_int": BIG}]
        meta["strides"] = [{"as_int": 0}, {"as_int": 0}]

    return rewrite_zip(good_pt2(folder), folder / "expanded.pt2", _configs(grow))


def pt2_empty_payload(folder: Path) -> Path:
    """A weight with no bytes: torch.export.load would allocate torch.zeros(BIG, BIG)."""

    def grow(config):
        meta = config["fc.weight"]["tensor_meta"]
        meta["sizes"] = [{"as_int": BIG}, {"as_int": BIG}]
        meta["strides"] = [{"as_int": BIG}, {"as_int": 1}]

    def change(name, data):
        if name.endswith("data/weights/weight_0"):
            return b""
        return _configs(grow)(name, data)

    return rewrite_zip(good_pt2(folder), folder / "empty_payload.pt2", change)


def safetensors_claiming(folder: Path) -> Path:
    header = json.dumps(
        {"w": {"dtype": "F32", "shape": [BIG, BIG], "data_offsets": [0, 4]}}
    ).encode()
    path = folder / "claiming.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + bytes(4))
    return path


def onnx_model(initializer, folder: Path, name: str) -> Path:
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    node = helper.make_node("MatMul", ["x", initializer.name], ["y"], name="fc")
    graph = helper.make_graph([node], "g", [x], [y], [initializer])
    path = folder / name
    onnx.save(helper.make_model(graph), str(path))
    return path


def onnx_claiming(folder: Path) -> Path:
    """An initializer whose dims claim BIG x BIG over 4 bytes of raw data."""
    from onnx import TensorProto

    t = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[BIG, BIG], raw_data=bytes(4))
    return onnx_model(t, folder, "claiming.onnx")


def onnx_external(folder: Path, location: str) -> Path:
    """An initializer whose data lives in ``location`` (never to be read)."""
    from onnx import TensorProto

    t = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[4, 3])
    t.data_location = TensorProto.EXTERNAL
    entry = t.external_data.add()
    entry.key, entry.value = "location", location
    return onnx_model(t, folder, "external.onnx")


EXPANDED = {
    "state_dict": state_dict_expanded,
    "legacy_state_dict": legacy_expanded,
    "checkpoint": checkpoint_expanded,
    "torchscript": torchscript_expanded,
    "pt2_strides": pt2_expanded,
    "pt2_empty_payload": pt2_empty_payload,
    "safetensors": safetensors_claiming,
    "onnx": onnx_claiming,
}
"""Each holds a few bytes and claims a BIG x BIG tensor."""


# -- a storage that claims more elements than the file holds --------------------------------
class _Storage:
    def __init__(self, numel: int) -> None:
        self.numel = numel


class _Tensor:
    def __init__(self, storage: _Storage, size, stride) -> None:
        self.args = (storage, 0, size, stride, False, OrderedDict())

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, self.args)


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, _Storage):
            return ("storage", torch.FloatStorage, "0", "cpu", obj.numel)
        return None


def _claiming_pickle(numel: int, shape) -> bytes:
    buf = io.BytesIO()
    stride = [1] * len(shape)
    for i in range(len(shape) - 2, -1, -1):
        stride[i] = stride[i + 1] * shape[i + 1]
    _Pickler(buf, protocol=2).dump(
        {"fc.weight": _Tensor(_Storage(numel), tuple(shape), tuple(stride))}
    )
    return buf.getvalue()


def state_dict_storage_claim(folder: Path) -> Path:
    """A zip state_dict whose data.pkl claims a 10^13-element storage over a 4-byte entry."""
    src = folder / "one.pt"
    torch.save({"fc.weight": torch.ones(1)}, src)
    claim = _claiming_pickle(10**13, (10**13,))
    return rewrite_zip(
        src, folder / "storage_claim.pt", lambda n, d: claim if n.endswith("/data.pkl") else d
    )


def legacy_storage_claim(folder: Path) -> Path:
    """A legacy torch.save file whose pickle claims a 10^13-element storage (torch allocates
    the claim before reading the data)."""
    path = folder / "storage_claim_legacy.pth"
    with open(path, "wb") as f:
        for obj in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
            pickle.dump(obj, f, protocol=2)
        f.write(_claiming_pickle(10**13, (10**13,)))
        pickle.dump(["0"], f, protocol=2)
        f.write(struct.pack("<q", 1) + bytes(4))
    return path


def zip_bomb(folder: Path) -> Path:
    """A state_dict with a deflated entry claiming 64 MiB in a file of a few hundred KB."""
    src = folder / "small.pt"
    torch.save({"fc.weight": torch.ones(2)}, src)
    dst = folder / "bomb.pt"
    with zipfile.ZipFile(src) as a, zipfile.ZipFile(dst, "w") as b:
        for info in a.infolist():
            b.writestr(info.filename, a.read(info))
        b.writestr(
            "small/extra/padding", bytes(64 * 1024 * 1024), compress_type=zipfile.ZIP_DEFLATED
        )
    return dst
