"""Scripted incidents, produced for real: the bundled handler and a naive shell-script handler run as processes
against a served simulator through the fake vmtoolsd (short real timeouts). Each run's own log, and the
simulator's journal, are imported back; the scenario made from them reproduces the same outcome (on virtual
time for the bundled handler, whose core runs in-process; on real time for the shell script).

The first real-time run of each incident mostly waits on its own seconds, so they all run at once (a module
fixture starts them for whichever test asks first); the naive script's replay starts as soon as its first run
ends, alongside the others' tails.
"""

from __future__ import annotations

import json
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest

from simulator.incident.realtime import run_real_time
from simulator.incident.reconstruct import Incident
from simulator.incident.scenario import Scenario, from_dict, from_incident
from simulator.incident.sources import load_incident
from simulator.incident.virtual import run_virtual

HERE = Path(__file__).parent
BUNDLED = ("{python} -m handler --name {name} --interval 0.2 --quiesce {quiesce} --unquiesce {unquiesce} "
           "--state-file {state_file} --log-format json")
NAIVE = f"sh {HERE / 'naive_handler.sh'} {{state_dir}}/handle_notifications.log {{quiesce}} {{unquiesce}}"


def scenario(name: str, host_timeout: int, actions: List[Dict[str, Any]], quiesce_seconds: float,
             duration: float, **knobs: Any) -> Scenario:
    return from_dict({
        "format": "vmotion-incident-scenario", "version": 1, "name": name,
        "settings": {"host_timeout": host_timeout, "migration_seconds": 0.3}, "knobs": knobs, "actions": actions,
        "hooks": {"quiesce": [{"seconds": quiesce_seconds, "exit_code": 0}]}, "duration": duration,
    })


# Each a few seconds of real time. The handler's deadline for a quiesce is eventGenTimeInSec (whole seconds) plus
# the timeout less its default 2-s safety margin: with a 4-s timeout the quiesce has 1 to 2 s.
BUNDLED_INCIDENTS = {
    # no-ack policy: a quiesce killed at its deadline is a failed one, so the migration is forced
    "forced migration after a slow quiesce": (
        scenario("slow quiesce", 4, [{"at": 0.2, "do": "vmotion"}], 4, 5.5), {"on_quiesce_failure": "no-ack"},
        {"forced-migration", "quiesce-killed"}),
    "timeout shrunk mid-quiesce": (
        scenario("shrunk", 4, [{"at": 0.2, "do": "vmotion"}, {"at": 0.7, "do": "set", "host_timeout": 2}], 3, 3.8),
        {}, {"quiesce-killed"}),
    # as before the cut but for the end (the runs go on together, so this one costs no time): the replay polls
    # at the median gap between the run's polls, which idle polls before the vMotion keep at the handler's
    # interval (the quiesce's slower ones are fewer), so it fetches the start a second before the reboot
    "reboot mid-operation": (
        scenario("reboot", 8, [{"at": 1, "do": "vmotion"}, {"at": 2, "do": "reboot"}], 2, 5), {},
        {"registration-lost", "forced-migration", "missed-end"}),
}


SLOW_TO_STOP = """#!/bin/sh
# Registers, then idles; told to stop, it takes a second before its last call (the unregister).
trap 'sleep 1; vmtoolsd --cmd "vm-operation-notification.unregister {\\"uniqueToken\\": \\"$T\\"}"; exit 0' TERM
OUT=$(vmtoolsd --cmd 'vm-operation-notification.register {"appName": "slow-stop", "notificationTypes": ["sla-miss"]}')
T=$(printf '%s' "$OUT" | sed -n 's/.*"uniqueToken": "\\([^"]*\\)".*/\\1/p')
while :; do sleep 0.1 & wait $!; done
"""


# Acked at about 1.7 s, ended at 1.5 s: the rest leaves the script (a shell process per line it logs, a Python one
# per call) time to fetch the end and log its unquiesce on a loaded machine.
NAIVE_SLOW_QUIESCE = scenario("naive slow quiesce", 1, [{"at": 0.2, "do": "vmotion"}], 1.5, 4.5)


def naive_replay(first: Path) -> Scenario:
    """The scenario made from the naive script's own log of its first run (left in ``first``)."""
    return from_incident(load_incident([first / "state" / "handle_notifications.log"]), "naive")


def replay_naive_after(run: Future[Incident], first: Path) -> Incident:
    run.result()
    return run_real_time(naive_replay(first), NAIVE.split())


@pytest.fixture(scope="module")
def real_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[str, Tuple[Future[Incident], Path]]]:
    """Each incident's first run on real time, all started at once: {name: (its run, the directory it left)}."""
    commands = {name: (source, (BUNDLED + "".join(f" --{k.replace('_', '-')} {v}" for k, v in handler.items())))
                for name, (source, handler, _) in BUNDLED_INCIDENTS.items()}
    commands["naive"] = (NAIVE_SLOW_QUIESCE, NAIVE)
    slow_to_stop = tmp_path_factory.mktemp("handler") / "slow_to_stop.sh"
    slow_to_stop.write_text(SLOW_TO_STOP)
    # The start is never acked: its deadline (second 1) falls after the run's end (second 0.3) but before the
    # handler's last call, which would make the simulator force the migration if its clock still ran.
    commands["slow to stop"] = (scenario("slow to stop", 1, [{"at": 0, "do": "vmotion"}], 0, 0.3),
                                f"sh {slow_to_stop} {{quiesce}} {{unquiesce}}")
    pool = ThreadPoolExecutor(len(commands) + 1)
    runs = {}
    for name, (source, command) in commands.items():
        kept = tmp_path_factory.mktemp("incident")
        runs[name] = (pool.submit(run_real_time, source, command.split(), keep=kept), kept)
    run, first = runs["naive"]
    runs["naive replayed"] = (pool.submit(replay_naive_after, run, first), first)
    yield runs
    # Under pytest-xdist another worker may have had some of these tests (and made its own runs): the runs no
    # test here asked for end on their own, while this worker goes on (the interpreter waits for them at exit).
    pool.shutdown(wait=False)


@pytest.mark.parametrize("incident", sorted(BUNDLED_INCIDENTS))
def test_a_bundled_handler_incident_replays_on_virtual_time(
    incident: str, real_runs: Dict[str, Tuple[Future[Incident], Path]]
) -> None:
    _, handler, expected = BUNDLED_INCIDENTS[incident]
    run, tmp_path = real_runs[incident]
    real = run.result()
    assert set(real.outcome) == expected, real.as_dict()
    for log in (tmp_path / "handler.log", tmp_path / "journal.json"):
        imported = load_incident([log])
        assert set(imported.outcome) == expected, (log.name, imported.as_dict())
        replay = from_incident(imported, incident)
        if log.name == "journal.json":
            # A journal shows the hypervisor's side only: the handler's configuration is the user's to add.
            replay.handler.update(handler)
        policy = handler.get("on_quiesce_failure", "ack-anyway")
        assert replay.handler.get("on_quiesce_failure", "ack-anyway") == policy
        assert set(run_virtual(replay).outcome) == expected, (log.name, replay.as_dict())


def test_a_naive_handler_forced_migration_replays_from_its_poc_style_log(
    real_runs: Dict[str, Tuple[Future[Incident], Path]]
) -> None:
    run, first = real_runs["naive"]
    real = run.result()
    assert "forced-migration" in real.outcome
    imported = load_incident([first / "state" / "handle_notifications.log"])
    assert imported.source_format == "poc"
    assert set(imported.outcome) == set(real.outcome)
    replay = naive_replay(first)
    assert replay.settings["host_timeout"] == 1 and replay.hooks["quiesce"][0]["seconds"] >= 1.5
    again = real_runs["naive replayed"][0].result()  # that scenario, run on real time as the fixture's last run
    assert set(again.outcome) == set(real.outcome), (replay.as_dict(), again.as_dict())


def test_a_real_time_run_ends_at_its_duration_however_long_the_handler_takes_to_stop(
    real_runs: Dict[str, Tuple[Future[Incident], Path]]
) -> None:
    run, kept = real_runs["slow to stop"]
    real = run.result()
    journal = json.loads((kept / "journal.json").read_text())
    assert [e["verb"] for e in journal if e.get("kind") == "rpc"][-1] == "unregister"  # it did call, late
    assert "forced-migration" not in real.outcome, real.as_dict()
