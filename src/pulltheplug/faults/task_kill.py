"""`task-kill`: the service's task on the target SIGKILLed (an OOM kill, a crash): Swarm must replace it.

Done through the node's Docker API, so it is the same on every backend. Nothing to revert: the fault's
interval is the time given to Swarm; the revert records what runs on the node then.
"""

from __future__ import annotations

import contextlib

import docker
from docker.models.containers import Container

from pulltheplug.cluster.seam import Cluster, Evidence
from pulltheplug.errors import FaultError, SpecError
from pulltheplug.faults.base import Fault, FaultContext
from pulltheplug.spec import FaultSpec
from pulltheplug.swarm.api import API_ERRORS

SERVICE_LABEL = "com.docker.swarm.service.name"


class TaskKill(Fault):
    kind = "task-kill"

    def __init__(self, cluster: Cluster, node: str, duration: float, spec: FaultSpec | None = None,
                 context: FaultContext | None = None) -> None:
        super().__init__(cluster, node, duration, spec, context)
        if self.context.with_task and node not in self.context.with_task:
            raise SpecError(f"task-kill: {node} runs no task of {self.context.service}: target one of "
                            f"{', '.join(self.context.with_task)} (or random)")

    def describe(self) -> Evidence:
        return {"service": self.context.service}

    def arm(self) -> Evidence:
        """A killed task is Swarm's to replace: nothing to arm."""
        return {}

    def disarm(self) -> None:
        """Nothing was armed."""

    def inject(self) -> Evidence:
        killed = []
        client = self.cluster.docker_client(self.node)
        with contextlib.closing(client):
            try:
                for c in self._tasks(client):
                    c.kill(signal="SIGKILL")
                    killed.append(c.name)
            except API_ERRORS as exc:
                raise FaultError(f"task-kill on {self.node}: {type(exc).__name__}: {exc}") from exc
        if not killed:
            raise FaultError(f"task-kill on {self.node}: no running task of {self.context.service} there")
        return {"killed": killed}

    def revert(self) -> Evidence:
        client = self.cluster.docker_client(self.node)
        with contextlib.closing(client):
            try:
                running = [c.name for c in self._tasks(client)]
            except API_ERRORS as exc:
                raise FaultError(f"task-kill on {self.node}: {type(exc).__name__}: {exc}") from exc
        return {"running_now": running}

    def _tasks(self, client: docker.DockerClient) -> list[Container]:
        found: list[Container] = client.containers.list(
            filters={"label": f"{SERVICE_LABEL}={self.context.service}", "status": "running"})
        return found
