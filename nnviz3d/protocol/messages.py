"""Every message of the websocket protocol, defined once.

JSON messages travel as websocket *text* frames; scenes and (later) probe frames travel as
*binary* frames (:mod:`nnviz3d.protocol.codec`): a small JSON header plus raw little-endian
arrays. The viewer's TypeScript types are generated from this file
(``python -m nnviz3d.protocol.codegen``); a test fails when the generated file is stale.

Handshake: the client sends :class:`Hello` first; the server answers :class:`Welcome` (then
the whole current scene) or :class:`ErrorMessage` and closes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PROTOCOL_VERSION = 1
"""Bumped on every incompatible change; client and server must agree exactly."""

MAGIC = "NV3D"
"""First four bytes of every binary frame."""


@dataclass
class Hello:
    """Client -> server, first message."""

    protocol: int
    """The client's PROTOCOL_VERSION."""
    client: str
    """Who is connecting, e.g. ``nnviz3d-web/0.1.0``."""
    type: str = "hello"


@dataclass
class Welcome:
    """Server -> client: handshake accepted; the scene follows."""

    protocol: int
    """The server's PROTOCOL_VERSION (equal to the client's)."""
    server: str
    """Server name and version, e.g. ``nnviz3d/0.1.0``."""
    model: str
    """Name of the model being shown."""
    type: str = "welcome"


@dataclass
class ErrorMessage:
    """Server -> client: something the client sent was refused; shown in the page."""

    code: str
    """Machine-readable reason: ``protocol_mismatch``, ``bad_message``, ``not_found``..."""
    message: str
    """One sentence for a person: what was wrong and what to do."""
    fatal: bool = False
    """True when the server closes the connection after this message."""
    type: str = "error"


@dataclass
class SceneInfo:
    """Server -> client: a scene of ``bytes`` bytes follows (for a loading indicator)."""

    bytes: int
    """Size of the binary scene frame that follows."""
    blocks: int
    """Number of blocks in it."""
    version: int
    """Scene version: increases every time the server's scene changes."""
    type: str = "scene_info"


@dataclass
class Expand:
    """Client -> server: open a collapsed group (every viewer sees the change)."""

    path: str
    """Module path of the group, dotted (``transformer.h.3``)."""
    type: str = "expand"


@dataclass
class Collapse:
    """Client -> server: close an expanded group into one block."""

    path: str
    """Module path of the group, dotted."""
    type: str = "collapse"


@dataclass
class Timeline:
    """Server -> client: which steps exist (sent when new steps arrive, at most a few per s)."""

    first_step: int
    """First recorded step (-1 when none yet)."""
    last_step: int
    """Newest recorded step (-1 when none yet)."""
    frames: int
    """Probe frames recorded so far."""
    live: bool
    """True while a training run is feeding this server; False for a finished run/replay."""
    kinds: dict
    """Which steps hold which probe kind, for the timeline's ticks: ``{kind: {"steps": [...],
    "stride", "count", "last"}}`` for the kinds ``weight``, ``grad``, ``act`` and ``mat``
    (weight maps) seen so far. ``steps`` (sorted, at most 256) holds the first step of each
    bin of ``stride`` steps that has the kind; ``count`` frames had it, the newest at
    ``last`` (nnviz3d/server/step_marks.py). Untrusted in a replay: the viewer caps it."""
    type: str = "timeline"


@dataclass
class Seek:
    """Client -> server: show the state at ``step``; the server answers with the newest
    probe frame of each kind (weights, gradients, activations) at or before it."""

    step: int
    """Training step to show."""
    type: str = "seek"


@dataclass
class Follow:
    """Client -> server: follow the newest step again (live mode)."""

    type: str = "follow"


@dataclass
class Detail:
    """Client -> server: send the histogram ridges and PCA scatter of one module as an
    ``overlays`` frame (channel ``detail``), refreshed while new steps arrive."""

    path: str
    """Dotted module path; an empty string stops the detail overlays."""
    type: str = "detail"


@dataclass
class Inspect:
    """Client -> server: show every layer's output for one probe input (an ``overlays`` frame
    of channel ``inspect``), optionally with a saliency map."""

    index: int
    """Which probe input (0 <= index < InputsInfo.count)."""
    method: str = "none"
    """Saliency: ``none``, ``gradient``, ``gradient_x_input`` or ``grad_cam``."""
    target: int = -1
    """Class to explain; -1 for the predicted one."""
    type: str = "inspect"


@dataclass
class Visualise:
    """Client -> server: feature visualisation of one unit (an ``overlays`` frame of channel
    ``feature``): an input optimised to excite it, computed on a copy of the model."""

    module: str
    """Dotted module path of the layer."""
    unit: int
    """Channel (conv) or unit (linear) index in the layer's output."""
    type: str = "visualise"


@dataclass
class Track:
    """Client -> server: record one unit's mean activation at every activation probe from now
    on, as the run metric ``act MODULE[UNIT]`` (shown in the chart, kept in the recording)."""

    module: str
    """Dotted module path of the layer."""
    unit: int
    """Channel (feature maps) or unit (last dimension) index."""
    type: str = "track"


@dataclass
class LandscapeRequest:
    """Client -> server: the loss surface around the current weights (an ``overlays`` frame of
    channel ``landscape``), computed on a copy of the model with progress messages."""

    steps: int = 21
    """Grid points per axis (3..61)."""
    type: str = "landscape"


@dataclass
class Progress:
    """Server -> client: how far a long request (feature visualisation, landscape) is."""

    job: str
    """``feature`` or ``landscape``."""
    done: int
    """Units of work done."""
    total: int
    """Units of work in all."""
    type: str = "progress"


@dataclass
class RecipeInfo:
    """Server -> client (on join): how a scene recipe wants the view (nnviz3d/recipe.py)."""

    view: dict
    """``{"title", "color_by"?, "weights"?, "flow"?, "camera"?, "bookmarks": [{"name",
    "position", "target", "caption"?}], "tour": [{"position", "target", "caption", "seconds",
    "bookmark"?, "step"?}]}``; tour stops arrive resolved to a viewpoint."""
    type: str = "recipe"


@dataclass
class InputsInfo:
    """Server -> client (on join): the probe inputs that can be inspected."""

    count: int
    """How many inputs there are."""
    labels: list
    """Their labels (integers), or an empty list when the user gave none."""
    live: bool
    """True while training runs: a request is then served at the next training step."""
    landscape: bool
    """True when a loss is known (labels or loss_fn given), so a landscape can be computed."""
    replay: str = ""
    """In a replay, what the recording can answer (requests made during the run), in words;
    anything else is computed live only. Empty while the model is there."""
    recorded: list = field(default_factory=list)
    """In a replay, the probe inputs with a recorded answer (the others cannot be shown)."""
    features: list = field(default_factory=list)
    """In a replay, the ``[module, unit]`` pairs with a recorded feature visualisation."""
    type: str = "inputs"


CLIENT_MESSAGES = {
    m.type: m
    for m in (
        Hello,
        Expand,
        Collapse,
        Seek,
        Follow,
        Detail,
        Inspect,
        Visualise,
        Track,
        LandscapeRequest,
    )
}
SERVER_MESSAGES = {
    m.type: m
    for m in (Welcome, ErrorMessage, SceneInfo, Timeline, InputsInfo, Progress, RecipeInfo)
}
ALL_MESSAGES = (
    Hello,
    Welcome,
    ErrorMessage,
    SceneInfo,
    Timeline,
    Expand,
    Collapse,
    Seek,
    Follow,
    Detail,
    Inspect,
    Visualise,
    Track,
    LandscapeRequest,
    InputsInfo,
    Progress,
    RecipeInfo,
)

PROBE = "probe"
"""Binary frame type of one step's probe results (see nnviz3d/capture/probes.py)."""
SCALARS = "scalars"
"""Binary frame type of the loss/metrics history (see nnviz3d/protocol/probe_frame.py)."""
OVERLAYS = "overlays"
"""Binary frame type of data overlays (see nnviz3d/protocol/overlay_frame.py)."""
STAT_NAMES = ("mean", "std", "min", "max", "norm", "zero_frac", "nan", "inf")
"""Columns of every ``*_stats`` array in a probe frame."""
HIST_BINS = 64
"""Bins of every ``*_hist`` array in a probe frame (over that row's finite min..max)."""
SALIENCY_METHODS = ("none", "gradient", "gradient_x_input", "grad_cam")
"""What ``inspect.method`` may ask for (nnviz3d/analysis/saliency.py)."""
PROBE_KINDS = ("weight", "grad", "act")
"""What a probe frame can carry: parameters, their gradients, module outputs."""
NONFINITE = "nonfinite"
"""Top-level key of a frame header (or JSON message) naming the numbers that are NaN or
infinite: ``{JSON pointer: one of NONFINITE_VALUES}``; each travels as ``null`` (JSON has no
NaN). See nnviz3d/protocol/codec.py."""
NONFINITE_VALUES = ("NaN", "Infinity", "-Infinity")
"""How the ``nonfinite`` map names NaN, +Inf and -Inf."""
