"""Key queues' input: a bad ``key_queues`` or key-queue constant exits 2 naming file, line and
field; a dispatch order that only the default path has is refused at its line; constants
the default path ignores are warned about."""
from __future__ import annotations

import warnings

import pytest

import flowsim
from flowsim.errors import ScenarioWarning
from flowsim.platform import IDEAL, INNGEST, KEY_QUEUE_CONSTANTS

from tests.test_bad_input_scenario import BASE, expect


def with_account(text: str) -> str:
    return BASE.replace("functions:\n", text + "functions:\n")


def test_key_queues_must_be_a_boolean(tmp_path):
    expect(tmp_path, with_account("account: {key_queues: yes please}\n"), 4, "account.key_queues",
           "expected true or false, got string 'yes please'")


@pytest.mark.parametrize("field,value,message", [
    ("shadow_tick", "0.5ms", "shadow_tick must be 0 (a continuous scanner) or at least 1ms, got 0.0005s"),
    ("backlog_lookahead", "-2", "expected a non-negative finite duration, got -2"),
    ("backlog_peek", "0", "value must be at least 1, got 0"),
    ("refill_size", "2.5", "expected an integer"),
    ("step_backlog_weight", "0", "value must be at least 1, got 0"),
    ("start_backlog_weight", "-1", "value must be at least 1, got -1"),
    ("key_backoff_step", "soon", "expected a duration"),
    ("concurrency_requeue", "-5s", "expected a duration such as 200ms"),
])
def test_a_key_queue_constant_out_of_range(tmp_path, field, value, message):
    text = with_account(f"account: {{key_queues: true}}\nplatform:\n  {field}: {value}\n")
    expect(tmp_path, text, 6, f"platform.{field}", message)


def test_every_key_queue_constant_has_an_ideal_value():
    # ideal: a continuous scanner, no lookahead, no requeue delay; the bounds and weights stay.
    assert (IDEAL.shadow_tick, IDEAL.backlog_lookahead, IDEAL.concurrency_requeue, IDEAL.concurrency_retry,
            IDEAL.key_backoff_step) == (0, 0, 0, 0, 0)
    for name in ("backlog_peek", "refill_size", "step_backlog_weight", "start_backlog_weight",
                 "throttle_backoff_max"):
        assert getattr(IDEAL, name) == getattr(INNGEST, name)
    assert set(KEY_QUEUE_CONSTANTS) <= set(vars(INNGEST))


def test_a_dispatch_order_is_refused_at_its_line(tmp_path):
    text = with_account("account: {key_queues: true}\n").replace(
        "    concurrency: 5\n", "    concurrency: 5\n    policies:\n      - {policy: round_robin, key: event.data.user_id}\n")
    expect(tmp_path, text, 10, "functions[0].policies[0].policy",
           "policy 'round_robin' sets the order of the default queue path's walk; with account.key_queues")


def test_a_key_queue_constant_on_the_default_path_is_warned_about(tmp_path):
    path = tmp_path / "warn.yaml"
    path.write_text(BASE.replace("functions:\n", "platform: {shadow_tick: 1s}\nfunctions:\n"))
    with pytest.warns(ScenarioWarning, match=r"warn.yaml:4: platform.shadow_tick: shadow_tick applies only to "
                                             r"the key-queue path"):
        flowsim.load_scenario(path)
    path.write_text(BASE.replace("functions:\n", "account: {key_queues: true}\nplatform: {shadow_tick: 1s}\n"
                                                 "functions:\n"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ScenarioWarning)
        assert flowsim.load_scenario(path).platform.shadow_tick == 1.0
