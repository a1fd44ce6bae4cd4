"""The pure model of the VMX side of one VM: no I/O, no threads, no sleeps. Time is always an argument."""

from simulator.model.config import VmConfig, effective_timeout
from simulator.model.errors import InvalidInput, ModelError, Refused
from simulator.model.events import EndEvent, Event, StartEvent, TimeoutChangeEvent
from simulator.model.operation import Operation, Phase
from simulator.model.vm import Registration, VirtualMachine

__all__ = [
    "EndEvent",
    "Event",
    "InvalidInput",
    "ModelError",
    "Operation",
    "Phase",
    "Refused",
    "Registration",
    "StartEvent",
    "TimeoutChangeEvent",
    "VirtualMachine",
    "VmConfig",
    "effective_timeout",
]
