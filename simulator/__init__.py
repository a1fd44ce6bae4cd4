"""A faithful model of the hypervisor side of vSphere 8 vMotion notifications.

    from simulator import Simulator, ManualClock
    sim = Simulator(clock=ManualClock(), host_timeout=120)
    sim.call('vm-operation-notification.register {"appName": "demo", "notificationTypes": ["sla-miss"]}')
"""

from simulator.clock import Clock, ManualClock, ScaledClock, SystemClock
from simulator.faults import Faults
from simulator.inprocess import Simulator, SimulatorError
from simulator.model.knobs import Knobs
from simulator.rpc import RpcResult

__all__ = [
    "Clock", "Faults", "Knobs", "ManualClock", "RpcResult", "ScaledClock", "Simulator", "SimulatorError", "SystemClock",
]
