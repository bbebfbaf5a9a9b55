"""A full disk (simulated with RLIMIT_FSIZE: writes past 300 kB fail with EFBIG) gives one
clear warning; training goes on to the end and the recording replays up to its last commit."""

import subprocess
import sys
import textwrap

from nnviz3d.record import RunReader


def test_disk_full_warns_once_and_training_goes_on(tmp_path):
    path = tmp_path / "full.nnv3d"
    script = textwrap.dedent(f"""
        import resource, signal, torch, nnviz3d
        from nnviz3d import zoo
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of death
        resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))
        m, x = zoo.digits_cnn()
        opt = torch.optim.SGD(m.parameters(), 0.01)
        w = nnviz3d.watch(m, x, record={str(path)!r}, serve=False, every=1, health=False)
        for i in range(150):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(m(torch.randn(8, 1, 8, 8)),
                                              torch.randint(0, 10, (8,))).backward()
            opt.step()
            w.step(loss=float(i))
        w.close()
        print("trained", w.stats()["steps"], flush=True)
    """)
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout + proc.stderr
    assert proc.stdout.strip() == "trained 150"
    warnings = [line for line in out.splitlines() if "stopped" in line]
    assert len(warnings) == 1, out[-2000:]  # once, logged: stderr when nothing configured it
    assert warnings[0] in proc.stderr
    assert f"recording to {path} stopped" in warnings[0] and "is the disk full?" in warnings[0]
    reader = RunReader(path)
    summary = reader.summary()
    assert 0 < summary["frames"] and summary["last_step"] < 149  # up to the last commit
    steps = [step for _, step, kinds, _ in reader.frames() if kinds]
    assert steps == list(range(len(steps)))
