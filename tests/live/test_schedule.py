import math

import pytest

from nnviz3d.live import ProbeSchedule
from nnviz3d.live.schedule import CALIBRATION, KINDS


def probed_steps(s: ProbeSchedule, steps: int, step_time, cost) -> dict[str, list[int]]:
    """Drive a schedule the way Watcher._step does: step time and each due kind's cost are
    ``step_time(step)`` and ``cost(kind, step)`` seconds."""
    out = {k: [] for k in KINDS}
    for step in range(steps):
        if step:
            s.observe_step(step_time(step))
        for kind in KINDS:
            if s.due(step, kind):
                out[kind].append(step)
                s.observe_cost(kind, cost(kind, step))
    return out


def test_every_forces_a_fixed_interval():
    s = ProbeSchedule(every=3)
    s.observe_step(0.01)
    s.observe_cost("weight", 1.0)
    assert s.interval == {k: 3 for k in KINDS}
    assert [s.due(i, "grad") for i in range(4)] == [True, False, False, True]


def test_budget_spreads_costly_kinds_out():
    s = ProbeSchedule(budget=0.05)
    for _ in range(CALIBRATION):
        s.observe_step(0.010)  # a 10 ms step; each kind may use 1/4 of 5 % = 0.125 ms
    s.observe_cost("weight", 0.5)  # the first call (warm-up) is not counted
    s.observe_cost("grad", 0.5)
    s.observe_cost("weight", 0.001)  # 1 ms -> every 8th step (8x over)
    s.observe_cost("grad", 0.0001)  # 0.1 ms -> every step
    assert s.interval["weight"] == 8 and s.interval["grad"] == 1
    assert s.overhead() <= 0.05 + 1e-9


@pytest.mark.parametrize(
    "kwargs",
    [
        {"every": 0},
        {"budget": 0},
        {"budget": 2},
        {"max_interval": 100},
        {"max_interval": 0},
        {"max_seconds": 0},
        {"max_seconds": math.inf},
        {"max_seconds": math.nan},
        {"every": 2.5},
    ],
)
def test_bad_settings_say_what_is_wrong(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        ProbeSchedule(**kwargs)


def test_background_and_every_step_work_come_out_of_the_budget():
    s = ProbeSchedule(budget=0.05)
    for _ in range(CALIBRATION):
        s.observe_step(0.010)
    for _ in range(50):
        s.observe_background(0.0003)  # the worker uses 0.3 of the 0.5 ms budget per step
    s.observe_every_step(0.0001)  # health signals 0.1 ms: 0.1 ms left, 0.025 ms a kind
    s.observe_cost("grad", 0.5)
    s.observe_cost("grad", 0.0001)  # 0.1 ms against a 0.025 ms share -> every 4th step
    assert s.interval["grad"] == 4


def test_calibration_probes_every_kind_at_the_first_steps_whatever_the_cost():
    s = ProbeSchedule(budget=0.05)
    steps = probed_steps(s, 64, lambda _: 0.001, lambda *_: 0.05)  # probes 50x a step
    for kind in KINDS:
        assert steps[kind][:CALIBRATION] == list(range(CALIBRATION))
        assert s.interval[kind] == s.max_interval  # then the budget sends it to the cap


def test_steps_are_aligned_powers_of_two_and_the_cap_is_a_lattice_every_run_shares():
    """Two runs whose measured costs differ by 3x (a noisy machine) pick different intervals,
    but both probe every kind at every multiple of max_interval."""
    runs = [
        probed_steps(
            ProbeSchedule(max_interval=32, max_seconds=None),
            400,
            lambda _: 0.002,
            lambda kind, step, f=f: f * 0.0004,
        )
        for f in (1.0, 3.0)
    ]
    for steps in runs:
        for kind, probed in steps.items():
            assert set(range(0, 400, 32)) <= set(probed)
            later = [p for p in probed if p >= CALIBRATION]
            gaps = {b - a for a, b in zip(later, later[1:])}
            assert all(g & (g - 1) == 0 for g in gaps), (kind, gaps)  # powers of two
            assert all(p % min(gaps) == 0 for p in later)  # aligned to the interval
            assert max(gaps) <= 32


def test_same_measurements_give_the_same_steps():
    def noisy(kind, step):  # deterministic "noise" around 0.3 ms
        return 0.0003 * (1 + 0.2 * math.sin(step * 1.7 + len(kind)))

    a = probed_steps(ProbeSchedule(), 600, lambda s: 0.002, noisy)
    b = probed_steps(ProbeSchedule(), 600, lambda s: 0.002, noisy)
    assert a == b


def test_noise_does_not_flip_the_interval():
    """Costs wandering +-30 % around a power-of-two boundary change the interval once, not
    back and forth (hysteresis)."""
    s = ProbeSchedule(max_seconds=None)
    changes, last = 0, None
    for step in range(2000):
        if step:
            s.observe_step(0.010)
        if s.due(step, "grad"):
            s.observe_cost("grad", 0.125e-3 * 4 * (1 + 0.3 * math.sin(step)))  # need ~4
        if step > CALIBRATION and s.interval["grad"] != last:
            changes += 1
            last = s.interval["grad"]
    assert changes <= 2


def test_time_guarantee_refreshes_slow_steps_within_max_seconds():
    """0.3 s steps and probes far over budget: the step cap (256) would refresh every 77 s;
    the time guarantee (1 s) makes it every 2 steps (0.6 s)."""
    s = ProbeSchedule(budget=0.05, max_seconds=1.0)
    steps = probed_steps(s, 40, lambda _: 0.3, lambda *_: 0.5)
    for kind in KINDS:
        later = [p for p in steps[kind] if p >= CALIBRATION]
        assert max(b - a for a, b in zip(later, later[1:])) * 0.3 <= 1.0
        assert s.interval[kind] == 2


def test_time_guarantee_does_not_bind_fast_steps():
    s = ProbeSchedule(budget=0.05, max_seconds=1.0)
    probed_steps(s, 300, lambda _: 0.002, lambda *_: 0.0004)
    # need = 0.4 ms / (5 % of 2 ms / 4 kinds) = 16; 1 s of 2 ms steps is 500 steps
    assert s.interval == {k: 16 for k in KINDS}
