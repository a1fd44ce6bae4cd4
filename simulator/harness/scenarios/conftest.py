"""The shipped scenarios' fixtures: the steps (``steps_*.py``) and the handler under test (``under_test.py``)."""

from simulator.harness.scenarios.steps_guest import *  # noqa: F403 - pytest-bdd step definitions are fixtures: import them all
from simulator.harness.scenarios.steps_handler import *  # noqa: F403
from simulator.harness.scenarios.under_test import handler, policy, tokens  # noqa: F401 - fixtures
