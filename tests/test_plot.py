"""The plotting helpers draw what the result says: bars, extents, lines."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from flowsim import plot  # noqa: E402
from tests.helpers import ev, run, scenario  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def patches(ax, gid):
    return [p for p in ax.patches if p.get_gid() == gid]


def extents(ax, gid):
    return sorted((round(p.get_x(), 6), round(p.get_x() + p.get_width(), 6), round(p.get_y() + p.get_height() / 2))
                  for p in patches(ax, gid))


def keyed_result():
    steps = [{"run": "a", "duration": 2}, {"sleep": "3s"}, {"run": "b", "duration": 1}]
    f = {"id": "f", "triggers": [{"event": "go"}], "concurrency": [{"key": "event.data.user", "limit": 1}],
         "steps": steps}
    return run(scenario([f], [ev(0, user="u1"), ev(1, user="u1"), ev(0, user="u2")]))


def test_gantt_by_key_draws_each_step_sleep_and_queue_wait():
    ax = plot.gantt(keyed_result(), by="key")
    # rows: u1 (y=0), u2 (y=1). u1: first run a 0-2, sleep 2-5, b 5-6; second run waits 1-2,
    # a 2-4, sleep 4-7, b 7-8 (b waits for nothing: u1's slot is free at 7). u2: a 0-2, sleep, b 5-6.
    assert extents(ax, "step") == [(0, 2, 0), (0, 2, 1), (2, 4, 0), (5, 6, 0), (5, 6, 1), (7, 8, 0)]
    assert extents(ax, "sleep") == [(2, 5, 0), (2, 5, 1), (4, 7, 0)]
    assert extents(ax, "queued") == [(1, 2, 0)]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["u1", "u2"]


def test_gantt_by_run_has_one_row_per_run():
    ax = plot.gantt(keyed_result(), by="run", queued=False)
    assert len(ax.get_yticklabels()) == 3
    assert patches(ax, "queued") == []
    with pytest.raises(ValueError):
        plot.gantt(keyed_result(), by="tenant")


def test_latency_cdf_steps_reach_one_at_the_largest_latency():
    r = keyed_result()
    ax = plot.latency_cdf({"a": r, "b": r})
    lines = [ln for ln in ax.get_lines() if ln.get_gid() == "cdf"]
    assert len(lines) == 2
    x, y = lines[0].get_data()
    assert list(x) == [0, 0, 1] and y[-1] == pytest.approx(1.0)


def test_binding_bars_one_bar_per_constraint_with_its_delay():
    r = keyed_result()
    ax = plot.binding_bars(r)
    bars = patches(ax, "constraint")
    assert len(bars) == 1 and bars[0].get_width() == pytest.approx(1.0)   # u1's second run waited 1 s


def test_per_key_and_over_time_and_sweep_curve():
    r = keyed_result()
    ax = plot.per_key_latency(r, top=1)
    assert len(patches(ax, "key")) == 1           # u1 is both the busiest and the worst key
    ax = plot.over_time(r, columns=("slots_in_use",), bin=4)
    (line,) = [ln for ln in ax.get_lines() if ln.get_gid() == "slots_in_use"]
    x, y = line.get_data()
    # slots in use: [0,4): u1 a 0-2 + u2 a 0-2 + u1' a 2-4 = 6 slot-seconds / 4 s
    assert x[0] == 0 and y[0] == pytest.approx(1.5)
    table = pd.DataFrame({"c": [1, 2, 3], "mean": [9.0, 4.0, 2.0], "ci_low": [8, 3, 1], "ci_high": [10, 5, 3]})
    ax = plot.sweep_curve(table, x="c", slo=5)
    (curve,) = [ln for ln in ax.get_lines() if ln.get_gid() == "curve"]
    assert list(curve.get_data()[1]) == [9.0, 4.0, 2.0]
    assert [ln.get_ydata()[0] for ln in ax.get_lines() if ln.get_gid() == "slo"] == [5]
    assert len([c for c in ax.collections if c.get_gid() == "band"]) == 1
    assert np.isfinite(y).all()
