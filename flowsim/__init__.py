"""flowsim: a deterministic simulator of the flow control of event-driven function platforms.

>>> import flowsim
>>> result = flowsim.simulate(flowsim.load_scenario("scenarios/user-sync.yaml"))
>>> result.runs.head(); result.summary()["start_latency"]
"""
from flowsim.api import simulate
from flowsim.errors import ScenarioError
from flowsim.results.result import Result
from flowsim.scenario.load import load_scenario
from flowsim.scenario.model import Scenario

__version__ = "0.1.0"
__all__ = ["load_scenario", "simulate", "Result", "Scenario", "ScenarioError", "__version__"]
