"""Requests from inside the swarm: a client container on an attachable overlay network calls the service by
name, through Swarm's own DNS (127.0.0.11 inside the container's namespace), as service-to-service calls do.

The load runs in that container's network namespace (the controller enters it: `Cluster.container_netns`),
so the same open-loop prober and records serve. The resolver asks 127.0.0.11 itself at every new
connection (the controller's own resolv.conf knows nothing of the swarm) and writes each change of the
answer as a `door` event: how fast Swarm's discovery forgets a dead task.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import socket
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp.abc
import dns.asyncresolver
import dns.exception
import dns.resolver
import docker

from pulltheplug.cluster.netns import enter_netns
from pulltheplug.cluster.seam import Cluster, ClusterNode
from pulltheplug.errors import ClusterError, SpecError
from pulltheplug.spec import PROBE_IMAGE, ServiceDnsSpec
from pulltheplug.swarm.api import API_ERRORS

log = logging.getLogger(__name__)

CLIENT_LABEL = {"pulltheplug": "client"}
SWARM_DNS = "127.0.0.11"


def ensure_network(client: docker.DockerClient, name: str) -> None:
    """An attachable overlay network for the service and the client container (made once, kept)."""
    if not client.networks.list(names=[name]):
        client.networks.create(name, driver="overlay", attachable=True, scope="swarm", labels={"pulltheplug": "net"})


class SwarmResolver(aiohttp.abc.AbstractResolver):
    """Asks Swarm's resolver directly; `on_answer` hears every answer that differs from the last one."""

    def __init__(self, on_answer: Callable[[str, list[str]], None], timeout: float = 1.0) -> None:
        self._dns = dns.asyncresolver.Resolver(configure=False)
        self._dns.nameservers = [SWARM_DNS]
        self._dns.lifetime = timeout
        self._on_answer = on_answer
        self._last: dict[str, list[str]] = {}

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[aiohttp.abc.ResolveResult]:
        try:
            answer = await self._dns.resolve(host, "A")
            addresses = [str(r) for r in answer]  # in Swarm's (rotating) order: the client tries the first
        except (dns.exception.DNSException, OSError) as exc:
            addresses = []
            reason = type(exc).__name__
            log.debug("%s did not resolve: %s", host, reason)
        if addresses and self._last.get(host) != sorted(addresses):  # a failed lookup is no answer
            self._last[host] = sorted(addresses)
            self._on_answer(host, sorted(addresses))
        if not addresses:
            raise OSError(f"{host}: Swarm's DNS has no task address")
        return [{"hostname": host, "host": a, "port": port, "family": socket.AF_INET, "proto": 0,
                 "flags": socket.AI_NUMERICHOST} for a in addresses]

    async def close(self) -> None:
        return None


class ServiceDnsDoor:
    kind = "service-dns"

    def __init__(self, cluster: Cluster, nodes: Sequence[ClusterNode], service: str, path: str,
                 settings: ServiceDnsSpec) -> None:
        names = [n.name for n in nodes]
        self.node = settings.client_node or names[-1]
        if self.node not in names:
            raise SpecError(f"workload.entry.service_dns.client_node {self.node!r} is not a node: use one of "
                            f"{', '.join(names)}")
        self.cluster = cluster
        self.service = service
        self.path = path if path.startswith("/") else "/" + path
        self.settings = settings
        self.container_id: str | None = None
        self.netns: Path | None = None
        self._answers: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()

    def start(self) -> ServiceDnsDoor:
        client = self.cluster.docker_client(self.node, timeout=60)
        try:
            for stale in client.containers.list(all=True, filters={"label": "pulltheplug=client"}):
                stale.remove(force=True)  # a killed run's client
            # create + start, never `run`: docker-py's run pulls a missing image, and nothing is pulled here
            container = client.containers.create(PROBE_IMAGE, ["sleep", "86400"], network=self.settings.network,
                                                 labels=CLIENT_LABEL, name=f"ptp-client-{self.node}")
            self.container_id = str(container.id)
            container.start()
        except docker.errors.ImageNotFound:
            raise SpecError(f"entry service-dns: {PROBE_IMAGE} is not on {self.node} (it is never pulled)") from None
        except docker.errors.APIError as exc:
            raise SpecError(f"entry service-dns: no client container on {self.node}: "
                            f"{exc.explanation or exc}") from None
        finally:
            client.close()
        try:
            self.netns = self.cluster.container_netns(self.node, self.container_id)
        except BaseException:
            self.close()
            raise
        return self

    def holder(self) -> str | None:
        return None

    def avoid(self) -> str | None:
        """The client's node: a fault there would cut the client, not the service."""
        return self.node

    def entries(self) -> dict[str, str]:
        return {self.kind: f"http://{self.service}:{self.settings.target_port}{self.path}"}

    def describe(self) -> dict[str, object]:
        return {"kind": self.kind, "address": self.service, "client_node": self.node,
                "network": self.settings.network, "resolver": SWARM_DNS, "down_bound": None}

    def resolver(self) -> SwarmResolver:
        def heard(host: str, addresses: list[str]) -> None:
            with self._lock:
                self._answers[host] = {"state": "answer", "addresses": ",".join(addresses) or "-"}

        return SwarmResolver(heard)

    def backends(self) -> dict[str, dict[str, str]]:
        with self._lock:
            return dict(self._answers)

    def close(self) -> list[str]:
        if self.container_id is None:
            return []
        client = self.cluster.docker_client(self.node, timeout=30)
        try:
            with contextlib.suppress(docker.errors.NotFound):
                client.containers.get(self.container_id).remove(force=True)
        except API_ERRORS as exc:
            log.warning("the client container %s on %s was not removed: %s", self.container_id[:12], self.node, exc)
        finally:
            client.close()
        self.container_id = None
        return [f"client container on {self.node} removed"]




def wait_answering(netns: Path, entries: dict[str, str], timeout: float) -> None:
    """Until every entry answers 2xx from inside `netns`, names asked of Swarm's DNS (on a thread of its own:
    the namespace is the thread's)."""
    def inside() -> None:
        enter_netns(netns)
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [SWARM_DNS]
        resolver.lifetime = 1.0
        deadline = time.monotonic() + timeout
        for name, url in entries.items():
            parts = urlsplit(url)
            while True:
                with contextlib.suppress(dns.exception.DNSException, OSError, http.client.HTTPException):
                    address = str(resolver.resolve(parts.hostname or "", "A")[0])
                    conn = http.client.HTTPConnection(address, parts.port or 80, timeout=1)
                    try:
                        conn.request("GET", parts.path or "/", headers={"Host": parts.netloc})
                        if 200 <= conn.getresponse().status < 300:
                            break
                    finally:
                        conn.close()
                if time.monotonic() > deadline:
                    raise ClusterError(f"entry {name} ({url}) does not answer from inside the swarm within "
                                       f"{timeout:.0f}s: is the service on the client's network?")
                time.sleep(0.2)

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(inside).result()
