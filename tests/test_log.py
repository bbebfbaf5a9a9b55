"""nnviz3d/log.py: messages through the ``nnviz3d`` logger to stderr; ``quiet=`` is the level."""

import logging
import subprocess
import sys
import textwrap

import pytest

from nnviz3d import log as messages


@pytest.fixture
def clean_logger():
    """The ``nnviz3d`` logger and the root logger as a fresh process has them."""
    logger, root = logging.getLogger("nnviz3d"), logging.getLogger()
    saved = logger.handlers[:], logger.level, root.handlers[:], dict(messages._ours)
    logger.handlers[:] = [h for h in logger.handlers if not isinstance(h, messages.StderrHandler)]
    logger.setLevel(logging.NOTSET)
    messages._ours["level"] = None
    yield logger
    root.handlers[:] = saved[2]
    logger.handlers[:] = saved[0]
    logger.setLevel(saved[1])
    messages._ours.update(saved[3])


def _bare_root():
    """No handler on the root logger, as in a script (pytest puts its capture handlers there
    for each test phase)."""
    logging.getLogger().handlers[:] = []


def test_notes_and_warnings_go_to_stderr_once_each(clean_logger, capsys):
    _bare_root()
    messages.use_stderr(quiet=False)
    messages.use_stderr(quiet=False)  # a second watch() adds no second handler
    clean_logger.info("nnviz3d: a note")
    clean_logger.getChild("server").warning("nnviz3d: a warning")
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == ["nnviz3d: a note", "nnviz3d: a warning"]


def test_quiet_keeps_warnings_only(clean_logger, capsys):
    _bare_root()
    messages.use_stderr(quiet=True)
    clean_logger.info("nnviz3d: a note")
    clean_logger.warning("nnviz3d: a warning")
    assert capsys.readouterr().err.splitlines() == ["nnviz3d: a warning"]
    messages.use_stderr(quiet=False)  # the level is ours: the next call may change it
    clean_logger.info("nnviz3d: a note")
    assert capsys.readouterr().err.splitlines() == ["nnviz3d: a note"]


def test_a_level_the_user_set_is_kept(clean_logger, capsys):
    _bare_root()
    clean_logger.setLevel(logging.ERROR)
    messages.use_stderr(quiet=False)
    clean_logger.warning("nnviz3d: not wanted")
    clean_logger.error("nnviz3d: wanted")
    assert capsys.readouterr().err.splitlines() == ["nnviz3d: wanted"]
    assert clean_logger.level == logging.ERROR


def test_a_user_logging_setup_gets_each_message_once(clean_logger, capsys):
    _bare_root()
    seen = []

    class Keep(logging.Handler):
        def emit(self, record):
            seen.append(record.getMessage())

    logging.getLogger().addHandler(Keep())
    messages.use_stderr(quiet=False)
    clean_logger.info("nnviz3d: a note")
    assert seen == ["nnviz3d: a note"]
    assert capsys.readouterr().err == ""  # no handler of ours printing it a second time
    assert not messages.has_stderr_handler()


def test_watch_quiet_prints_no_url_but_says_warnings(tmp_path):
    """A quiet watch() of a broken network: stdout empty, each layer's NaN alarm said once on stderr;
    not quiet: the URL line on stdout and the notes on stderr."""
    script = textwrap.dedent(
        """
        import sys, torch, nnviz3d
        quiet = sys.argv[1] == "quiet"
        model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 1))
        x = torch.randn(8, 4)
        with nnviz3d.watch(model, x, record=False, open_browser=False, port=0,
                           quiet=quiet) as w:
            for step in range(6):
                model.zero_grad()
                loss = model(x).pow(2).mean() * (float("nan") if step == 4 else 1.0)
                loss.backward()
                w.step(loss)
        """
    )
    runs = {}
    for mode in ("quiet", "loud"):
        runs[mode] = subprocess.run(
            [sys.executable, "-c", script, mode],
            capture_output=True,
            text=True,
            timeout=180,
            cwd=tmp_path,
        )
        assert runs[mode].returncode == 0, runs[mode].stderr[-2000:]
    quiet, loud = runs["quiet"], runs["loud"]
    assert quiet.stdout == ""
    assert loud.stdout.startswith("nnviz3d: viewing Sequential at http://127.0.0.1:")
    for run in (quiet, loud):
        alarms = [line for line in run.stderr.splitlines() if "NaN" in line]
        assert len(alarms) == len(set(alarms)) == 2, run.stderr  # once per layer
    assert "Traceback" not in quiet.stderr + loud.stderr
