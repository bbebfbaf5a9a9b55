"""SIGKILL the training process at 20 random moments (bench/kill_recordings.py): every
recording opens, replays whole frames, holds every step from 0 without a gap, and loses only
the steps in flight."""

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parents[2] / "bench" / "kill_recordings.py"


def test_twenty_random_kills_leave_recordings_that_replay():
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--runs", "20", "--json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:] + proc.stdout[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    summary = result["summary"]
    assert summary["runs"] == 20 and summary["all_open"] and summary["all_contiguous"]
    assert all(r["finished"] >= 0 for r in result["results"])  # each was killed mid-training
    # frames are committed in batches every 50 ms: a kill loses at most the batch in flight
    # (a few steps here; generous for a loaded machine)
    assert summary["max_lost"] <= 32, result["results"]


def test_the_main_file_copied_alone_replays_a_killed_run(tmp_path):
    """A run SIGKILLed before SQLite's own checkpoint (4 MB of WAL) lived entirely in its
    -wal: the main file copied alone (what `cp run.nnv3d` or a sync tool may take) was
    'damaged'. The writer checkpoints after the graph and about once a second."""
    import os
    import shutil
    import signal
    import textwrap
    import time

    from nnviz3d.record import RunReader
    from nnviz3d.record.run_file import CHECKPOINT_SECONDS

    path = tmp_path / "killed.nnv3d"
    script = textwrap.dedent(f"""
        import time, torch, nnviz3d
        from nnviz3d import zoo
        m, x = zoo.digits_cnn()
        opt = torch.optim.SGD(m.parameters(), 0.01)
        w = nnviz3d.watch(m, x, record={str(path)!r}, serve=False, every=1, health=False)
        for i in range(100000):
            opt.zero_grad(); m(torch.randn(8, 1, 8, 8)).sum().backward(); opt.step()
            w.step(loss=float(i))
            print(i, flush=True)
            time.sleep(0.02)  # a slow run: far from the 4 MB of WAL SQLite checkpoints at
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    finished = int(proc.stdout.readline())
    start = time.monotonic()
    for line in proc.stdout:
        finished = int(line)
        if time.monotonic() - start > 3 * CHECKPOINT_SECONDS:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    alone = tmp_path / "copy"
    alone.mkdir()
    shutil.copyfile(path, alone / path.name)  # the main file only, no -wal, no -shm
    assert os.path.exists(f"{path}-wal")  # (the run was killed: its WAL is still there)
    summary = RunReader(alone / path.name).summary()
    print(f"main file alone: step {summary['last_step']} of {finished} finished")
    assert summary["frames"] > 0 and summary["first_step"] == 0
    assert summary["last_step"] >= finished // 3
