"""Front doors: how users reach the service (a load balancer with health checks, later a moving VIP).

A door is core code, like a fault: it asks the cluster for a place to run (`Cluster.open_edge`) and never
imports a backend. `nodes` needs no door: requests go straight to each node's published port.
"""

from pulltheplug.doors.base import Door, make_door
from pulltheplug.doors.watch import DoorWatcher

__all__ = ["Door", "DoorWatcher", "make_door"]
