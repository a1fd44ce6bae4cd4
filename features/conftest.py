"""The project's own scenarios (the helper against vcsim, and the story across both sides): the shipped guest and
handler steps from ``simulator/harness/scenarios``, plus the vCenter steps beside these features."""

from features.steps_maintenance import *  # noqa: F403 - pytest-bdd step definitions are fixtures: import them all
from features.steps_vcenter import *  # noqa: F403
from simulator.harness.scenarios.steps_guest import *  # noqa: F403
from simulator.harness.scenarios.steps_handler import *  # noqa: F403
from simulator.harness.scenarios.under_test import handler, policy, tokens  # noqa: F401 - fixtures
