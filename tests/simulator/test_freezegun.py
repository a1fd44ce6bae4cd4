"""The model on the system clock, moved by freezegun: no manual clock needed for deadlines to pass."""

from __future__ import annotations

import datetime

from freezegun import freeze_time

from simulator import Simulator, SystemClock
from tests.simulator.guest import Guest


def test_a_forced_migration_under_freezegun() -> None:
    with freeze_time("2022-10-29 07:04:20") as frozen:
        sim = Simulator(SystemClock(), host_timeout=120, migration_seconds=15)
        guest = Guest(sim)
        token = guest.register()
        op_id = sim.vmotion()
        start = guest.check(token)
        assert start["eventGenTimeInSec"] == 1667027060
        frozen.tick(datetime.timedelta(seconds=119))
        assert sim.operation(op_id)["phase"] == "waiting-ack"
        frozen.tick(datetime.timedelta(seconds=1))
        assert sim.operation(op_id)["forced"] is True
        frozen.tick(datetime.timedelta(seconds=15))
        end = guest.check(token)
        assert (end["eventType"], end["eventGenTimeInSec"]) == ("end", 1667027060 + 135)
