"""A RouterOS API simulator: real wire protocol, three RouterOS dialects, scriptable faults.

It lets tests, the benchmark and technicians drive the real librouteros client (through the
agent's RouterOS source) without a router. `SimFleet` runs many routers in one process, one
listening port each; each `SimRouter` can be rebooted, lose its WAN, hang, drop replies and so on
while the fleet runs.
"""

from pantau.collector.lab.routeros_sim import (
    admin,  # noqa: F401 - registers /user, /ip/service, ...
    bandwidth,  # noqa: F401 - registers the capacity tests
)
from pantau.collector.lab.routeros_sim.router import RouterSpec, SimRouter
from pantau.collector.lab.routeros_sim.server import SimFleet

__all__ = ["RouterSpec", "SimFleet", "SimRouter"]
