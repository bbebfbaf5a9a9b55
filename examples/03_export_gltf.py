"""Export the digits CNN as glTF: its weights as a static file, and 40 training steps as an
animation whose block colours follow each layer's gradient norm (as the viewer's Colour menu).

Run: python examples/03_export_gltf.py [OUT_DIR]   (default: runs/)
Open the .glb files in Blender, https://gltf-viewer.donmccurdy.com or the three.js editor.
"""

import sys
import tempfile
from pathlib import Path

import torch

import nnviz3d
from nnviz3d import zoo

out = Path(sys.argv[1] if len(sys.argv) > 1 else "runs")
torch.manual_seed(0)
model, x = zoo.digits_cnn()

static = nnviz3d.export_gltf(model, out / "digits_cnn.glb", example_inputs=x)
print(f"{static.path}: {static.nodes} nodes, {static.bytes:,} bytes")

run = Path(tempfile.mkdtemp(prefix="nnviz3d-example-")) / "digits.nnv3d"
watcher = nnviz3d.watch(model, x, record=run, serve=False, every=1, quiet=True)
opt = torch.optim.SGD(model.parameters(), lr=0.05)
for _ in range(40):
    loss = torch.nn.functional.cross_entropy(
        model(torch.randn(32, 1, 8, 8)), torch.randint(0, 10, (32,))
    )
    opt.zero_grad()
    loss.backward()
    opt.step()
    watcher.step(loss=loss.item())
watcher.close()

animated = nnviz3d.export_gltf(
    run, out / "digits_cnn_training.glb", animate=True, color_by="grad_norm", seconds_per_step=0.1
)
print(
    f"{animated.path}: {len(animated.steps)} steps in a {animated.duration:.1f} s animation, "
    f"{animated.bytes:,} bytes"
)
