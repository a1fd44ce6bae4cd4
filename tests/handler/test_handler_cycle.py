"""A whole vMotion on virtual time: register, start, quiesce, ack, migration, end, unquiesce, unregister."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from handler.metrics import Metrics
from handler.state import FileStateStore
from simulator import Simulator
from simulator.rpc import RpcResult
from tests.handler.virtual import T0, ScriptedHooks, Timeline, make_handler, rpcs


def test_acks_within_the_deadline_and_unquiesces_after_the_end(
    sim: Simulator, timeline: Timeline, hooks: ScriptedHooks, store: FileStateStore, tmp_path: Path
) -> None:
    hooks.script("quiesce", seconds=5)
    hooks.script("unquiesce", seconds=2)
    op_ids: list[int] = []
    timeline.at(3, lambda: op_ids.append(sim.vmotion()))
    metrics_file = tmp_path / "metrics.prom"
    handler = make_handler(sim, timeline, hooks, store, stop_at=60, metrics=Metrics(str(metrics_file)))

    assert handler.run() == 0

    (op_id,) = op_ids
    (quiesce,) = hooks.of("quiesce")
    assert quiesce.started == 3  # seen at the first poll after the request (interval 1 s)
    assert quiesce.env["VMOTION_EVENT_TYPE"] == "start"
    assert quiesce.env["VMOTION_OPERATION_ID"] == str(op_id)  # exact 64-bit integer, never a float
    assert op_id > 2**53
    assert quiesce.env["VMOTION_TIMEOUT"] == "120"
    assert quiesce.env["VMOTION_DEADLINE"] == str(int(T0 + 3 + 120 - 2))
    assert quiesce.env["VMOTION_APP_NAME"] == "demo"

    (ack,) = rpcs(sim, "ack-event")
    assert ack["t"] == 8  # right when the quiesce exited: no interval sleep in between
    assert json.loads(ack["request"].split(" ", 1)[1])["operationId"] == op_id
    assert '"ackStatus": "ack_received"' in ack["stdout"]

    op = sim.status()["operations"][0]
    assert op["acked"] is True and op["forced"] is False and op["phase"] == "done"

    (unquiesce,) = hooks.of("unquiesce")
    assert unquiesce.env["VMOTION_OPERATION_ID"] == str(op_id)
    assert unquiesce.env["VMOTION_OP_STATUS"] == "success"
    assert unquiesce.env["VMOTION_REASON"] == "end"
    assert unquiesce.started >= 8 + 15  # after the migration's end

    assert sim.status()["registrations"] == []
    assert [e["verb"] for e in rpcs(sim)][-1] == "unregister"
    assert not os.path.exists(store.path)  # a clean stop leaves nothing to recover

    metrics = metrics_file.read_text()
    assert 'vmotion_handler_events_total{event_type="start"} 1' in metrics
    assert 'vmotion_handler_events_total{event_type="end"} 1' in metrics
    assert 'vmotion_handler_acks_total{result="ok"} 1' in metrics
    assert 'vmotion_handler_hook_duration_seconds_sum{hook="quiesce"} 5' in metrics
    assert "vmotion_handler_registered 0" in metrics


def test_state_file_is_0600_and_written_before_the_quiesce_runs(
    sim: Simulator, timeline: Timeline, hooks: ScriptedHooks, store: FileStateStore
) -> None:
    seen: list[dict[str, object]] = []
    hooks.script("quiesce", seconds=4)
    timeline.at(1, sim.vmotion)
    timeline.at(3, lambda: seen.append(json.loads(Path(store.path).read_text())))
    handler = make_handler(sim, timeline, hooks, store, stop_at=10)
    handler.start()
    mode = stat.S_IMODE(os.stat(store.path).st_mode)
    assert mode == 0o600
    while timeline.elapsed() < 10:
        if not handler.step():
            timeline.sleep(1)
    (during,) = seen  # taken while the quiesce ran
    assert during["app_name"] == "demo"
    assert isinstance(during["token"], str) and len(during["token"]) == 36
    ops = during["operations"]
    assert isinstance(ops, list) and ops[0]["phase"] == "quiescing"
    after = json.loads(Path(store.path).read_text())
    assert after["operations"][0]["phase"] == "acked"


class _TokenCatcher:
    """The guest's side of the channel: the journal holds placeholders, so the real token is caught here."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.issued: list[str] = []

    def call(self, command: str) -> RpcResult:
        result = self.sim.call(command)
        if command.startswith("vm-operation-notification.register") and '"uniqueToken"' in result.stdout:
            self.issued.append(json.loads(result.stdout)["uniqueToken"])
        return result


def test_the_token_never_appears_in_the_logs(
    sim: Simulator, timeline: Timeline, hooks: ScriptedHooks, store: FileStateStore,
    caplog: pytest.LogCaptureFixture, tmp_path: Path,
) -> None:
    from handler.logs import setup_logging

    tokens = _TokenCatcher(sim)

    log_file = tmp_path / "handler.log"
    logger = setup_logging("json", "debug", str(log_file))
    try:
        timeline.at(2, sim.vmotion)
        make_handler(sim, timeline, hooks, store, stop_at=30, logger=logger, transport=tokens.call).run()
    finally:
        logger.handlers.clear()
    [token] = tokens.issued
    text = log_file.read_text()
    assert "check-for-event" in text  # debug logging of every RPC was on
    assert token not in text
    assert "********-****-****-****-************" in text
    for line in text.splitlines():
        json.loads(line)  # one JSON object per line


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_token_quoted_in_a_traceback_is_redacted_too(tmp_path: Path, log_format: str) -> None:
    from handler.logs import setup_logging

    token = "52964f1a-6c7e-b373-b588-545b39581e1a"
    log_file = tmp_path / "handler.log"
    logger = setup_logging(log_format, "info", str(log_file))
    try:
        try:
            raise RuntimeError(f'vm-operation-notification.check-for-event {{"uniqueToken": "{token}"}} failed')
        except RuntimeError:
            logger.exception("unexpected error in the event loop; continuing")
    finally:
        logger.handlers.clear()
    text = log_file.read_text()
    assert "Traceback" in text and "RuntimeError" in text
    assert token not in text


def test_a_metrics_file_that_cannot_be_written_does_not_stop_the_cycle(
    sim: Simulator, timeline: Timeline, hooks: ScriptedHooks, store: FileStateStore, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics_dir = tmp_path / "metrics"

    def break_metrics_dir() -> None:
        shutil.rmtree(metrics_dir)
        metrics_dir.write_text("a file where the directory was\n")

    hooks.script("quiesce", seconds=5)
    timeline.at(1, sim.vmotion)
    timeline.at(3, break_metrics_dir)  # while the application is quiesced
    handler = make_handler(sim, timeline, hooks, store, stop_at=60, metrics=Metrics(str(metrics_dir / "m.prom")))
    assert handler.run() == 0
    op = sim.status()["operations"][0]
    assert (op["acked"], op["phase"]) == (True, "done")
    (unquiesce,) = hooks.of("unquiesce")
    assert unquiesce.env["VMOTION_REASON"] == "end"
    assert sim.status()["registrations"] == []
    assert sum("cannot write the metrics file" in r.message for r in caplog.records) == 1


def test_the_core_redacts_tokens_whatever_logging_its_embedder_set_up(
    sim: Simulator, timeline: Timeline, hooks: ScriptedHooks, store: FileStateStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # No setup_logging here: records reach the root logger (caplog, at debug) without the daemon's filter.
    timeline.at(2, sim.vmotion)
    timeline.at(4, lambda: sim.set_faults(truncate=True, remaining=1))  # an error excerpt of a reply
    tokens = _TokenCatcher(sim)
    make_handler(sim, timeline, hooks, store, stop_at=30, transport=tokens.call).run()
    [token] = tokens.issued
    messages = [r.getMessage() for r in caplog.records]
    assert any("check-for-event" in m for m in messages) and any("truncated" in m for m in messages)
    assert not [m for m in messages if token in m]
