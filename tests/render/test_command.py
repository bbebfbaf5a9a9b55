"""``nnviz3d render`` on the command line: one line and exit status 2 for a wrong command
line, 1 for what cannot be done, nothing half-written; and a video made end to end by the
real command in its own process."""

import subprocess
import sys
from pathlib import Path

import av
import pytest

from nnviz3d.cli import main
from tests.test_tour import write_run

RECIPE = str(Path(__file__).parents[2] / "scenes" / "digits_cnn.toml")


@pytest.fixture(scope="module")
def run_file(tmp_path_factory):
    return str(write_run(tmp_path_factory.mktemp("run") / "r.nnv3d"))


def one_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("nnviz3d: error: "), err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize("size", ["big", "0x100", "1920x99999", "12x12", "-5x10"])
def test_a_bad_size_is_a_usage_error(tmp_path, size, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["render", RECIPE, "-o", str(tmp_path / "x.png"), "--size", size])
    assert exc.value.code == 2
    assert "--size" in capsys.readouterr().err


@pytest.mark.parametrize(
    "extra, output, says",
    [
        ([], "x.gif", "must end in .png, .mp4 or .webm"),
        (["--background", "transparent"], "x.mp4", "--background transparent is for pictures"),
        (["--size", "641x360"], "x.mp4", "even sides"),
        (["--orbit"], "x.png", "for videos"),
        (["--fps", "0"], "x.mp4", "--fps must be 1 to 120"),
        (["--camera", "nowhere"], "x.png", "names no bookmark"),
        (["--step", "3"], "x.png", "--step needs a recording"),
    ],
)
def test_options_that_do_not_fit_are_usage_errors(tmp_path, extra, output, says, capsys):
    assert main(["render", RECIPE, "-o", str(tmp_path / output), *extra]) == 2
    assert says in one_error(capsys)
    assert list(tmp_path.iterdir()) == []


def test_a_step_the_run_does_not_hold_is_a_usage_error(tmp_path, run_file, capsys):
    assert main(["render", run_file, "-o", str(tmp_path / "x.png"), "--step", "99"]) == 2
    assert "--step 99: " in one_error(capsys) and list(tmp_path.iterdir()) == []


def test_a_missing_folder_or_a_folder_as_output_is_an_error(tmp_path, capsys):
    out = tmp_path / "missing" / "x.png"
    assert main(["render", RECIPE, "-o", str(out)]) == 1
    assert f"there is no folder {out.parent}" in one_error(capsys)
    (tmp_path / "x.png").mkdir()
    assert main(["render", RECIPE, "-o", str(tmp_path / "x.png")]) == 1
    assert "it is a folder" in one_error(capsys)


def test_no_chromium_says_how_to_get_one(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NNVIZ3D_CHROMIUM", str(tmp_path / "no-chromium"))
    assert main(["render", RECIPE, "-o", str(tmp_path / "x.png")]) == 1
    assert "no Chromium at" in one_error(capsys)  # said before the model is loaded
    assert main(["render", RECIPE, "-o", str(tmp_path / "x.png"), "--chromium", "/"]) == 1
    assert "no Chromium at /" in one_error(capsys)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "missing, says", [("playwright", "nnviz3d render"), ("av", "writing videos")]
)
def test_a_missing_extra_is_one_sentence(tmp_path, missing, says):
    code = (
        f"import sys; sys.modules[{missing!r}] = None\n"
        "from nnviz3d.cli import main\n"
        f"sys.exit(main(['render', {RECIPE!r}, '-o', {str(tmp_path / 'x.mp4')!r}]))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert r.stderr == (
        f"nnviz3d: error: {says} needs the 'render' extra ({missing} is not installed): "
        f"pip install 'nnviz3d[render]'\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_the_command_writes_a_video_of_a_run(tmp_path, run_file):
    out = tmp_path / "run.webm"
    r = subprocess.run(
        [sys.executable, "-m", "nnviz3d", "render", run_file, "-o", str(out)]
        + ["--size", "320x180", "--seconds", "0.5", "--fps", "8"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"wrote {out}: 4 frames (4 rendered) at 8 fps")
    assert "render 4/4 frames (100%)" in r.stderr  # progress: plain lines off a terminal
    with av.open(str(out)) as c:
        s = c.streams.video[0]
        assert (s.codec_context.name, s.width, s.height) == ("vp9", 320, 180)
        assert len(list(c.decode(video=0))) == 4
    assert [p.name for p in tmp_path.iterdir()] == ["run.webm"]
