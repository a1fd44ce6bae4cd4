"""A host's concurrent-vMotion slots: which VM's migration may proceed, and when (pure: no clock, no I/O).

vCenter charges each vMotion against the host's maximum cost and queues a migration that would exceed it
until another completes [S16 DOC]: with a vMotion costing 1, 4 at a time on 1 GbE and 8 on 10 GbE and
faster. Which migration a freed slot goes to is not published; here the
queue is first come, first served: VMs in inventory order when a slot is taken before the notification
(``wait_holds_slot``), in the order their holds were released (ack or timeout) otherwise.
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass
from typing import Deque, Dict, List, Optional, Sequence

GBE1_CONCURRENCY = 4  # vMotions per host on a 1 GbE vMotion network
GBE10_CONCURRENCY = 8  # on 10 GbE and faster


@dataclass(frozen=True)
class Admission:
    vm: int
    slot: int  # 0-based
    after: Optional[int]  # the VM whose migration freed this slot at this very moment, if any


class Host:
    def __init__(self, name: str, concurrency: int, vms: Sequence[int], wait_holds_slot: bool) -> None:
        if concurrency < 1:
            raise ValueError("a host takes at least one vMotion at a time")
        self.name = name
        self.concurrency = concurrency
        self.wait_holds_slot = wait_holds_slot
        self._free: List[int] = []  # slots given back; those never used yet are counted by _unused
        self._unused = 0  # the lowest slot never used (a limit of a billion must not cost a billion entries)
        # Holding slots while waiting: VMs are admitted in inventory order. Otherwise only a released VM
        # (its ack came, or its timeout passed) queues for a slot.
        self._queue: Deque[int] = deque(vms) if wait_holds_slot else deque()
        self._holder: Dict[int, int] = {}  # vm -> slot
        self._freed_by: Dict[int, int] = {}  # slot -> the VM whose migration just freed it

    @property
    def busy(self) -> int:
        return len(self._holder)

    def release(self, vm: int) -> None:
        """The VM's migration may proceed as far as the notification is concerned."""
        if not self.wait_holds_slot:
            self._queue.append(vm)

    def free(self, vm: int) -> None:
        """The VM's migration is over: its slot goes back."""
        slot = self._holder.pop(vm)
        self._freed_by[slot] = vm
        heapq.heappush(self._free, slot)

    def admit(self) -> List[Admission]:
        """Give every free slot to the next VM in the queue (call it after each change, at the same instant)."""
        admitted = []
        while self._queue and (self._free or self._unused < self.concurrency):
            if self._free:  # a slot given back is always lower than one never used
                slot = heapq.heappop(self._free)
            else:
                slot, self._unused = self._unused, self._unused + 1
            vm = self._queue.popleft()
            self._holder[vm] = slot
            admitted.append(Admission(vm, slot, self._freed_by.pop(slot, None)))
        self._freed_by.clear()  # a slot that stays free for a while no longer ties its next VM to the last one
        return admitted
