"""The controller as the edge of a real cluster: a front door (HAProxy) runs here, on loopback, in front of
your hosts, as a load balancer in front of a Pi cluster would; the load reaches it on 127.0.0.1."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from pulltheplug.cluster.edge_processes import EdgeProcesses


class ControllerEdge(EdgeProcesses):
    address = "127.0.0.1"

    def __init__(self) -> None:
        super().__init__(Path(tempfile.mkdtemp(prefix="pulltheplug-edge-")))

    def close(self) -> list[str]:
        done = self.stop_all()
        shutil.rmtree(self.folder, ignore_errors=True)
        return done
