"""The service under test: the probe image, replicated, host-mode published on every node.

Host mode because the kernels this runs on may lack IP_VS (no routing mesh); each task answers on its own
node's address, which is what lets a request be traced to the node that served it.
"""

from __future__ import annotations

import ipaddress
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import docker
from docker.types import EndpointSpec, ServiceMode

from pulltheplug.errors import ClusterError, SpecError
from pulltheplug.spec import PROBE_IMAGE
from pulltheplug.swarm.api import API_ERRORS, task_row
from pulltheplug.swarm.probe import SCRIPT
from pulltheplug.waiting import wait_until

log = logging.getLogger(__name__)


def deploy_probe(
    client: docker.DockerClient, name: str, replicas: int | None, port: int, image: str = PROBE_IMAGE,
    placement: Sequence[str] = (), max_replicas_per_node: int | None = None, mesh: bool = False,
    networks: Sequence[str] = (),
) -> str:
    """Create the service, or reuse one of that name; returns its id. The image is never resolved
    against a registry (docker-py sends the name as given; dockerd prefers the local image). Any image
    but the lab's own probe runs the probe's script as its command (it needs busybox's sh and httpd)."""
    for svc in client.services.list(filters={"name": name}):
        if svc.name == name:
            check_reusable(name, svc.attrs, port)
            return str(svc.id)
    svc = client.services.create(
        image,
        name=name,
        env=["PTP_NODE={{.Node.Hostname}}", "PTP_TASK={{.Task.Name}}"],
        mode=ServiceMode("global") if replicas is None else ServiceMode("replicated", replicas=replicas),
        constraints=list(placement) or None,
        networks=list(networks) or None,
        maxreplicas=max_replicas_per_node,
        endpoint_spec=EndpointSpec(mode="vip", ports={port: (80, "tcp", "ingress")}) if mesh
        else EndpointSpec(mode="dnsrr", ports={port: (80, "tcp", "host")}),
        labels={"pulltheplug": "probe"},
        **({} if image == PROBE_IMAGE else {"command": ["/bin/sh", "-c", SCRIPT]}),
    )
    return str(svc.id)


def exists(client: docker.DockerClient, name: str) -> bool:
    return any(svc.name == name for svc in client.services.list(filters={"name": name}))


def check_reusable(name: str, attrs: dict[str, Any], port: int) -> None:
    """A service of that name is reused only if it publishes the port the run will send load to."""
    ports = [p.get("PublishedPort") for p in attrs.get("Endpoint", {}).get("Ports", []) or []]
    ports += [p.get("PublishedPort") for p in attrs.get("Spec", {}).get("EndpointSpec", {}).get("Ports", []) or []]
    if port not in ports:
        raise SpecError(f"workload: service {name} already exists but does not publish port {port} "
                        f"(it publishes {sorted({p for p in ports if p}) or 'nothing'}): "
                        "set workload.port to match, pick another workload.service, or remove it")


def task_states(client: docker.DockerClient, name: str) -> list[str]:
    """The states of the tasks that should run (desired state running)."""
    tasks = client.api.tasks(filters={"service": name, "desired-state": "running"})
    return [row["state"] for row in map(task_row, tasks) if row is not None]


def task_node_ids(client: docker.DockerClient, name: str) -> set[str]:
    """The nodes (ids) where a task of the service runs now."""
    tasks = client.api.tasks(filters={"service": name, "desired-state": "running"})
    return {row["node_id"] for row in map(task_row, tasks) if row is not None and row["state"] == "running"}


def is_settled(states: list[str], replicas: int) -> bool:
    """Every replica running and none still on its way (pending, assigned, starting...)."""
    return len(states) >= replicas and all(s == "running" for s in states)


def wait_running(client: docker.DockerClient, name: str, replicas: int, timeout: float = 60) -> None:
    """Until the service is settled: a swarm healing from a fault may still move tasks after its nodes
    are all Ready (seen here: a leader back from a NIC fault rescheduled a task of a node never faulted), and
    its managers may have no leader for a while (a follower back from a NIC cut: 11 to 29 s here), when the
    API answers an error or nothing in 10 s."""
    states: list[str] = []

    def settled() -> bool:
        nonlocal states
        try:
            states = task_states(client, name)
        except API_ERRORS as exc:  # managers without a leader answer late or not at all: keep asking
            log.debug("tasks of %s not read: %s: %s", name, type(exc).__name__, exc)
            return False
        return is_settled(states, replicas)

    if wait_until(settled, timeout, 0.25):
        return
    raise ClusterError(f"service {name} did not get {replicas} running tasks within {timeout:.0f}s "
                       f"(tasks: {', '.join(states) or 'none'})")


def remove(client: docker.DockerClient, name: str) -> None:
    for svc in client.services.list(filters={"name": name}):
        if svc.name == name:
            svc.remove()


def check_entry(url: str, allowed: set[str]) -> None:
    """Load goes only to the cluster's own addresses or loopback: nothing else is ever a target."""
    host = urlsplit(url).hostname or ""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if host in allowed or (ip is not None and ip.is_loopback) or host == "localhost":
        return
    raise SpecError(f"workload.entries: refusing to send load to {url}: only the cluster's node addresses "
                    f"({', '.join(sorted(allowed))}) or loopback may be targets")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # a redirect could point outside the cluster: never follow it


# no proxy from the environment either: the check must reach the entry itself, and nothing else
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def wait_answering(entries: dict[str, str], timeout: float, method: str = "GET", body: bytes | None = None,
                   expect_status: int | None = None) -> None:
    """Until every entry gives a good answer to the run's own request (any 2xx, or the expected status).
    A refusal names every entry still silent, with what it last did: one dead port among many is then plain."""
    deadline = time.monotonic() + timeout
    waiting = dict(entries)
    last: dict[str, str] = {}
    while waiting:
        for name, url in list(waiting.items()):
            status = None
            try:
                with _DIRECT.open(urllib.request.Request(url, data=body, method=method), timeout=1) as resp:
                    status = resp.status
            except urllib.error.HTTPError as exc:  # an answer all the same: 4xx/5xx
                status = exc.code
            except (urllib.error.URLError, OSError) as exc:
                last[name] = _why(exc)
            if status is not None and ((200 <= status < 300) if expect_status is None else status == expect_status):
                del waiting[name]
            elif status is not None:
                last[name] = f"HTTP {status}"
        if not waiting:
            return
        if time.monotonic() > deadline:
            silent = "; ".join(f"{name} ({url}): {last[name]}" for name, url in waiting.items())
            raise ClusterError(f"{len(waiting)} of {len(entries)} entries do not answer within {timeout:g}s: "
                               f"{silent}: the service is not serving there")
        time.sleep(0.2)


def _why(exc: BaseException) -> str:
    """What a failed request met, in the words a user checks next (the port closed, or nobody answering)."""
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, TimeoutError):
        return "timed out"
    return f"{type(reason).__name__}: {reason}" if isinstance(reason, BaseException) else str(reason)
