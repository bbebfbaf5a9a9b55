"""A wheel built from the repository carries the built viewer."""

import pathlib
import subprocess
import sys
import zipfile

ROOT = pathlib.Path(__file__).parent.parent


def test_wheel_contains_the_viewer(tmp_path):
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps",
                        "--no-build-isolation", "-q", "-w", str(tmp_path)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    (wheel,) = tmp_path.glob("nnviz3d-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "nnviz3d/viewer_dist/index.html" in names
    assert any(n.startswith("nnviz3d/viewer_dist/assets/") and n.endswith(".js") for n in names)
    assert any(n.endswith(".woff") for n in names)  # the label font ships; nothing is fetched
    assert "nnviz3d/protocol/messages.py" in names
