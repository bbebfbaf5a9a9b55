import pytest

from nnviz3d.live import ProbeSchedule


def test_every_forces_a_fixed_interval():
    s = ProbeSchedule(every=3)
    s.observe_step(0.01)
    s.observe_cost("weight", 1.0)
    assert s.interval == {"weight": 3, "grad": 3, "act": 3}
    assert [s.due(i, "grad") for i in range(4)] == [True, False, False, True]


def test_budget_spreads_costly_kinds_out():
    s = ProbeSchedule(budget=0.05)
    s.observe_step(0.010)               # a 10 ms step; each kind may use 1/3 of 5 % = 0.167 ms
    s.observe_cost("weight", 0.5)       # the first call (warm-up) is not counted
    s.observe_cost("grad", 0.5)
    s.observe_cost("weight", 0.001)     # 1 ms -> every 8th step (6x over -> next power of 2)
    s.observe_cost("grad", 0.0001)      # 0.1 ms -> every step
    assert s.interval["weight"] == 8 and s.interval["grad"] == 1
    assert s.overhead() <= 0.05 + 1e-9


@pytest.mark.parametrize("kwargs", [{"every": 0}, {"budget": 0}, {"budget": 2}])
def test_bad_settings(kwargs):
    with pytest.raises(ValueError):
        ProbeSchedule(**kwargs)


def test_background_work_comes_out_of_the_budget():
    s = ProbeSchedule(budget=0.05)
    s.observe_step(0.010)
    for _ in range(50):
        s.observe_background(0.0004)    # the worker uses 0.4 of the 0.5 ms budget per step
    s.observe_cost("grad", 0.5)
    s.observe_cost("grad", 0.0001)      # 0.1 ms against a 0.033 ms share -> every 4th step
    assert s.interval["grad"] == 4
