"""The service under test: the probe image, replicated, host-mode published on every node.

Host mode because the kernels this runs on may lack IP_VS (no routing mesh); each task answers on its own
node's address, which is what lets a request be traced to the node that served it.
"""

from __future__ import annotations

import time

import docker
from docker.types import EndpointSpec, ServiceMode

from pulltheplug.errors import ClusterError
from pulltheplug.lab.image import PROBE_IMAGE


def deploy_probe(
    client: docker.DockerClient, name: str, replicas: int, port: int, image: str = PROBE_IMAGE
) -> str:
    """Create the service, or reuse one of that name; returns its id. The image is never resolved
    against a registry (docker-py sends the name as given; dockerd prefers the local image)."""
    for svc in client.services.list(filters={"name": name}):
        if svc.name == name:
            return str(svc.id)
    svc = client.services.create(
        image,
        name=name,
        env=["PTP_NODE={{.Node.Hostname}}", "PTP_TASK={{.Task.Name}}"],
        mode=ServiceMode("replicated", replicas=replicas),
        endpoint_spec=EndpointSpec(mode="dnsrr", ports={port: (80, "tcp", "host")}),
        labels={"pulltheplug": "probe"},
    )
    return str(svc.id)


def running_tasks(client: docker.DockerClient, name: str) -> list[dict[str, str]]:
    out = []
    for t in client.api.tasks(filters={"service": name, "desired-state": "running"}):
        out.append({"id": t["ID"], "node_id": t.get("NodeID", ""), "state": t["Status"]["State"]})
    return [t for t in out if t["state"] == "running"]


def wait_running(client: docker.DockerClient, name: str, replicas: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if len(running_tasks(client, name)) >= replicas:
                return
        except docker.errors.APIError:
            pass
        time.sleep(0.25)
    raise ClusterError(f"service {name} did not get {replicas} running tasks within {timeout:.0f}s")


def remove(client: docker.DockerClient, name: str) -> None:
    for svc in client.services.list(filters={"name": name}):
        if svc.name == name:
            svc.remove()
