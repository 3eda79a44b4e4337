"""The queue and concurrency core as a Hypothesis state machine (flowsim.testing.stateful):
send events, advance time, finish steps, with every invariant checked after each rule.
Its depth comes from the Hypothesis profile (``ci`` in CI: more and longer sequences)."""
from __future__ import annotations

from flowsim.testing.stateful import QueueMachine, machine_settings

TestQueueMachine = QueueMachine.TestCase
TestQueueMachine.settings = machine_settings()
