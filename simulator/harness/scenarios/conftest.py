"""The shipped scenarios' fixtures; the step definitions live beside the features in ``steps_*.py``."""

from simulator.harness.scenarios.steps_guest import *  # noqa: F403 - pytest-bdd step definitions are fixtures: import them all
from simulator.harness.scenarios.steps_handler import *  # noqa: F403
from simulator.harness.scenarios.story import story  # noqa: F401 - a fixture
