"""The two places where the ``inngest`` profile follows Inngest's Redis engine rather than
the exact GCRA (spec §2.3, §3.3): keys that expire before their ``tat``, and throttled
queues that wait for their forced whole-second rescan. Each case was found by running
Inngest's own Lua on a real Redis; ``ideal`` keeps the exact GCRA and instant rescans."""
from __future__ import annotations

import dataclasses
import json
import math

import pytest

import flowsim
from flowsim.errors import ScenarioError
from flowsim.platform import IDEAL, INNGEST
from flowsim.policies.gcra import Bucket, Buckets, Rate
from flowsim.testing import InvariantError, check_rate_limit, check_throttle
from tests.helpers import by_event, ev, run, scenario


def fn(fn_id="f", duration=1, **kw):
    base = {"id": fn_id, "triggers": [{"event": "go"}], "steps": [{"run": "work", "duration": duration}]}
    base.update(kw)
    return base


def starts(result, fn_id="f") -> list[float]:
    steps = result.steps[(result.steps["function_id"] == fn_id) & result.steps["started_at"].notna()]
    return sorted(steps["started_at"])


def started_at(result, event_id: str) -> float:
    return float(by_event(result).loc[event_id, "started_at"])


def test_the_profiles():
    assert INNGEST.gcra_key_expiry and INNGEST.throttle_force
    assert not IDEAL.gcra_key_expiry and not IDEAL.throttle_force


# -- Redis key expiry (§2.3) -----------------------------------------------------------------

def test_rate_limit_key_expires_before_its_tat():
    # 9/min, hidden burst 0: T = 6.667 s. The event at 0 writes tat 6.667 with
    # EX = trunc(6.667) = 6: the key is gone after 6 s, so the event at 6.5 finds an idle
    # bucket. The exact GCRA (ideal) still sees tat 6.667 and drops it.
    events = [ev(0, id="a"), ev(6.5, id="b")]
    rl = {"rateLimit": {"limit": 9, "period": "1m"}}
    inngest = run(scenario([fn(**rl)], events, platform="inngest"))
    assert list(inngest.events["outcome"]) == ["run", "run"]
    ideal = run(scenario([fn(**rl)], events, platform="ideal"))
    assert list(ideal.events["outcome"]) == ["run", "rate_limited"]
    assert ideal.events["reason"].iloc[1] == "rate limit 9/1m: 0 left until t=6.667"
    check_rate_limit(inngest)
    check_rate_limit(ideal)


@pytest.mark.parametrize("at, outcome", [(6.0, "rate_limited"), (6.001, "run")])
def test_a_key_reads_until_its_expiry_instant(at, outcome):
    # Redis deletes a key once the time is strictly past its expiry (6 s here).
    r = run(scenario([fn(rateLimit={"limit": 9, "period": "1m"})], [ev(0, id="a"), ev(at, id="b")],
                     platform="inngest"))
    assert r.events["outcome"].iloc[1] == outcome


def test_throttle_key_expires_before_its_tat():
    # limit 4 per 10 s, burst 1: T = 2.5 s, GCRA burst 4, τ = 10 s. Five start at 0 (tat
    # 12.5, EX = trunc(12.5) = 12). At 12.2 the key is gone: five more start at once.
    # The exact GCRA admits four at 12.2 (capacity 5 − ceil(0.3/2.5)) and the fifth at
    # tat − τ = 22.5 − 10 = 12.5.
    events = [ev(0, id=f"a{i}") for i in range(5)] + [ev(12.2, id=f"b{i}") for i in range(5)]
    th = {"throttle": {"limit": 4, "period": "10s", "burst": 1}}
    inngest = run(scenario([fn(**th)], events, platform="inngest"))
    assert starts(inngest) == [0.0] * 5 + [12.2] * 5
    ideal = run(scenario([fn(**th)], events, platform="ideal"))
    assert starts(ideal) == [0.0] * 5 + [12.2] * 4 + [12.5]
    check_throttle(inngest)
    check_throttle(ideal)


def test_the_throttle_invariant_knows_the_expiry():
    events = [ev(0, id=f"a{i}") for i in range(5)] + [ev(12.2, id=f"b{i}") for i in range(5)]
    r = run(scenario([fn(throttle={"limit": 4, "period": "10s", "burst": 1})], events, platform="inngest"))
    exact = dataclasses.replace(r, scenario=dataclasses.replace(
        r.scenario, platform=dataclasses.replace(r.scenario.platform, gcra_key_expiry=False)))
    with pytest.raises(InvariantError, match=r"the 10th start in \[0, 12.2\], more than the GCRA bound "
                                             r"floor\(\(w \+ τ\)/T\) \+ 1 = 9"):
        check_throttle(exact)


def test_bucket_expiry_and_retry_time():
    rate = Rate(60.0, 9, 0)
    b = Bucket(rate, expiry=True)
    assert b.consume(0.0)
    assert b.expires == 6.0
    assert not b.allows(6.0) and b.allows(6.0001)
    assert b.retry_at(1.0) == math.nextafter(6.0, math.inf)
    exact = Bucket(rate)
    exact.consume(0.0)
    assert exact.expires == math.inf
    assert exact.retry_at(1.0) == pytest.approx(60 / 9)


def test_ex_is_truncated_after_a_chain_of_writes():
    # 3 per 10 s, burst 5: τ = 16.667 s. Six at 0 (tat 20, EX 20); one more at 10/3,
    # where tat − now = 16.667 = τ: tat 23.333, tat − now exactly 20 s, so EX is 20
    # (a float 19.999… truncated would give 19).
    b = Bucket(Rate(10.0, 3, 5), expiry=True)
    assert b.consume(0.0, 6) and b.expires == 20.0
    now = 10 / 3
    assert b.consume(now)
    assert b.expires == now + 20


def test_at_least_one_second():
    # tat − now below 1 s: EX = max(…, 1) = 1.
    b = Bucket(Rate(1.0, 4, 0), expiry=True)
    assert b.consume(0.5)
    assert b.expires == 1.5


def test_a_refused_request_writes_nothing():
    buckets = Buckets(Rate(60.0, 1, 0), expiry=True)
    assert buckets.consume("k", 0.0)
    assert buckets.get("k", 0.0).expires == 60.0
    assert not buckets.consume("k", 30.0)
    assert buckets.get("k", 30.0).expires == 60.0


# -- forced throttle rescans (§3.3) ---------------------------------------------------------

def test_an_arrival_does_not_pull_a_throttled_queue_earlier():
    # limit 2 per 5 s: T = 2.5, τ = 2.5. Two start at 0 (tat 5), the third is due at 2.5.
    # Inngest requeues the partition to the next whole second with a force flag and an
    # enqueue does not move it earlier, so the event at 2.7 does not start the third:
    # the rescan at 3 does. The fourth is due at 7.5 − 2.5 = 5.
    events = [ev(0, id=f"e{i}") for i in range(3)] + [ev(2.7, id="late")]
    th = {"throttle": {"limit": 2, "period": "5s"}}
    assert starts(run(scenario([fn(**th)], events, platform="inngest"))) == [0, 0, 3, 5]
    assert starts(run(scenario([fn(**th)], events, platform="ideal"))) == [0, 0, 2.5, 5]


def test_another_key_waits_for_the_rescan_too():
    # Key a is throttled until 10; b arrives at 2.3 with capacity, but the function's queue
    # is forced until the whole-second rescan at 3.
    th = {"throttle": {"limit": 1, "period": "10s", "key": "event.data.k"}}
    events = [ev(0, id="a0", k="a"), ev(0, id="a1", k="a"), ev(2.3, id="b", k="b")]
    inngest = flowsim.simulate(flowsim.load_scenario(scenario([fn(**th)], events, platform="inngest")),
                               explain=True)
    assert started_at(inngest, "b") == 3.0
    assert started_at(inngest, "a1") == 10.0
    row = inngest.steps[inngest.steps["run_id"] == by_event(inngest).loc["b", "run_id"]].iloc[0]
    assert row["blocked_by"] == "throttle_rescan"
    assert json.loads(row["waits"]) == {"throttle_rescan": pytest.approx(0.7)}
    assert any("waits for the forced throttle rescan" in m for m in inngest.log["message"])
    ideal = run(scenario([fn(**th)], events, platform="ideal"))
    assert started_at(ideal, "b") == 2.3


def test_the_end_of_an_own_item_clears_the_force():
    # dequeue.lua rescores the partition and clears forceAtMS: a0's step ends at 1.5 and
    # b (arrived at 1.2) starts then, not at the rescan at 2.
    th = {"throttle": {"limit": 1, "period": "10s", "key": "event.data.k"}}
    events = [ev(0, id="a0", k="a"), ev(0, id="a1", k="a"), ev(1.2, id="b", k="b")]
    r = run(scenario([fn(duration=1.5, **th)], events, platform="inngest"))
    assert started_at(r, "b") == 1.5


def test_the_end_of_another_functions_item_does_not():
    # g's step ends at 1.5 in another partition: f's forced queue waits for its rescan at 2.
    th = {"throttle": {"limit": 1, "period": "10s", "key": "event.data.k"}}
    g = {"id": "g", "triggers": [{"event": "other"}], "steps": [{"run": "work", "duration": 1.5}]}
    events = [ev(0, id="a0", k="a"), ev(0, id="a1", k="a"), ev(0, "other", id="o"), ev(1.2, id="b", k="b")]
    r = run(scenario([fn(duration=5, **th), g], events, platform="inngest"))
    assert started_at(r, "b") == 2.0


def test_a_forced_queue_is_rescanned_each_second_while_items_arrive():
    # Key a is throttled until 20 s; b at 2.2 starts at 3, c at 7.9 at 8.
    th = {"throttle": {"limit": 1, "period": "20s", "key": "event.data.k"}}
    events = [ev(0, id="a0", k="a"), ev(0, id="a1", k="a"), ev(2.2, id="b", k="b"), ev(7.9, id="c", k="c")]
    r = run(scenario([fn(**th)], events, platform="inngest"))
    assert [started_at(r, e) for e in ("a0", "b", "c", "a1")] == [0, 3, 8, 20]


def test_the_switches_can_be_set_alone(tmp_path):
    sc = scenario([fn(rateLimit={"limit": 9, "period": "1m"})], [ev(0, id="a"), ev(6.5, id="b")],
                  platform={"profile": "inngest", "gcra_key_expiry": False})
    assert list(run(sc).events["outcome"]) == ["run", "rate_limited"]
    sc = scenario([fn(throttle={"limit": 2, "period": "5s"})],
                  [ev(0, id=f"e{i}") for i in range(3)] + [ev(2.7, id="late")],
                  platform={"profile": "inngest", "throttle_force": False})
    assert starts(run(sc)) == [0, 0, 2.7, 5]
    bad = scenario([fn()], [ev(0)], platform={"profile": "inngest", "throttle_force": "yes"})
    with pytest.raises(ScenarioError, match="platform.throttle_force: expected true or false"):
        flowsim.load_scenario(bad)
