"""The maintenance bridge's pure parts: vcsim's move records, and how each outcome is told (no vcsim needed;
tests/vcsim/test_maintenance.py and features/maintenance.feature run the bridge against vcsim)."""

from __future__ import annotations

import pytest

from simulator.cluster.maintenance import MaintenanceBridgeError, MoveOutcome, PendingMove
from simulator.cluster.maintenance_cli import describe

MOVE = {
    "id": 3, "vm": "vm-61", "vm_name": "VM0", "source": "host-21", "source_name": "H0",
    "destination": "host-28", "destination_name": "H1", "task": "task-9",
}


def test_a_move_record_is_read_whole() -> None:
    assert PendingMove.from_json(MOVE) == PendingMove(3, "vm-61", "VM0", "host-21", "H0", "host-28", "H1", "task-9")


def test_a_move_record_whose_id_is_not_a_number_is_refused() -> None:
    with pytest.raises(MaintenanceBridgeError, match="whose id is not a number"):
        PendingMove.from_json({**MOVE, "id": "3"})


def test_a_move_record_without_a_field_is_refused_in_one_line() -> None:
    partial = {k: v for k, v in MOVE.items() if k != "destination_name"}
    with pytest.raises(MaintenanceBridgeError, match="vcsim sent a move without 'destination_name'"):
        PendingMove.from_json(partial)


@pytest.mark.parametrize(
    ("outcome", "said"),
    [
        (MoveOutcome("VM0", "H0", "H1", True, 7, acked=True), "VM0: H0 -> H1, acked (operation 7)"),
        (MoveOutcome("VM0", "H0", "H1", True, 7, forced=True), "VM0: H0 -> H1, forced at the timeout (operation 7)"),
        (MoveOutcome("VM0", "H0", "H1", True, 7),
         "VM0: H0 -> H1, moved at once: no app registered in its guest, or notifications off (operation 7)"),
        (MoveOutcome("VM0", "H0", "H1", False), "VM0: H0 -> H1, moved without notification (no guest simulator)"),
        (MoveOutcome("VM0", "H0", "H1", False, error="cannot read the settings of VM0: gone"),
         "VM0: H0 -> H1, moved; cannot read the settings of VM0: gone"),
    ],
)
def test_each_outcome_is_one_line_in_the_scenario_words(outcome: MoveOutcome, said: str) -> None:
    assert describe(outcome) == said
