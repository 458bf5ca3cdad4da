"""Your own service: a compose file deployed as a Swarm stack through the Engine API, and image archives
loaded into every node (nothing is pulled in the lab).

docker-py has no stack call, and the docker CLI is not ours to drive, so the compose file is read here:
a subset of the compose format, checked whole before anything is deployed (one line naming the file, the
service and the key). Services and networks get Swarm's own stack label (`com.docker.stack.namespace`), so
`docker stack ls|rm` see them as a stack too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import yaml
from docker.types import EndpointSpec, ServiceMode

from pulltheplug.errors import SpecError
from pulltheplug.spec.base import read_text

NAMESPACE = "com.docker.stack.namespace"
SERVICE_KEYS = frozenset({"image", "command", "entrypoint", "environment", "ports", "deploy", "networks", "labels"})
DEPLOY_KEYS = frozenset({"replicas", "mode", "placement", "labels"})
_SHORT_PORT = re.compile(r"^(?:(?P<published>\d+):)?(?P<target>\d+)(?:/(?P<protocol>tcp|udp))?$")


@dataclass(frozen=True, slots=True)
class Port:
    published: int
    target: int
    protocol: str = "tcp"
    mode: str = "ingress"  # compose's default; "host": the task answers on its own node only


@dataclass(frozen=True, slots=True)
class ComposeService:
    name: str
    image: str
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    environment: list[str] = field(default_factory=list)
    ports: list[Port] = field(default_factory=list)
    replicas: int | None = None  # None with mode global
    mode: str = "replicated"
    constraints: list[str] = field(default_factory=list)
    max_replicas_per_node: int | None = None
    networks: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Compose:
    source: str
    services: dict[str, ComposeService]
    networks: dict[str, dict[str, Any]]


def read_compose(path: Path) -> Compose:
    return parse_compose(read_text(path, f"workload.stack: cannot read {path}"), str(path))


def parse_compose(text: str, source: str) -> Compose:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(f"{source}: not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict) or not isinstance(data.get("services"), dict) or not data["services"]:
        raise SpecError(f"{source}: no `services:` mapping: not a compose file")
    networks = data.get("networks") or {}
    if not isinstance(networks, dict):
        raise SpecError(f"{source}: networks: must be a mapping")
    services = {str(name): _service(source, str(name), body, networks) for name, body in data["services"].items()}
    return Compose(source, services, {str(k): dict(v or {}) for k, v in networks.items()})


def _service(source: str, name: str, body: Any, networks: dict[str, Any]) -> ComposeService:
    where = f"{source}: service {name}"
    if not isinstance(body, dict):
        raise SpecError(f"{where}: must be a mapping")
    unknown = sorted(set(body) - SERVICE_KEYS)
    if unknown:
        raise SpecError(f"{where}: {unknown[0]} is not supported here (supported: {', '.join(sorted(SERVICE_KEYS))})")
    if not isinstance(body.get("image"), str):
        raise SpecError(f"{where}: image: missing (pulltheplug deploys images, it does not build)")
    deploy = body.get("deploy") or {}
    unknown = sorted(set(deploy) - DEPLOY_KEYS)
    if unknown:
        raise SpecError(f"{where}: deploy.{unknown[0]} is not supported here "
                        f"(supported: {', '.join(sorted(DEPLOY_KEYS))})")
    mode = str(deploy.get("mode", "replicated"))
    if mode not in ("replicated", "global"):
        raise SpecError(f"{where}: deploy.mode {mode}: use replicated or global")
    placement = deploy.get("placement") or {}
    nets = body.get("networks") or []
    nets = list(nets) if isinstance(nets, list | dict) else []
    for net in nets:
        if net not in networks:
            raise SpecError(f"{where}: network {net} is not declared under the top-level networks:")
    return ComposeService(
        name=name, image=body["image"],
        command=_argv(body.get("command")), entrypoint=_argv(body.get("entrypoint")),
        environment=_environment(where, body.get("environment")),
        ports=[_port(where, p) for p in body.get("ports") or []],
        replicas=None if mode == "global" else int(deploy.get("replicas", 1)), mode=mode,
        constraints=[str(c) for c in placement.get("constraints") or []],
        max_replicas_per_node=placement.get("max_replicas_per_node"),
        networks=[str(n) for n in nets], labels={str(k): str(v) for k, v in (body.get("labels") or {}).items()},
    )


def _argv(value: Any) -> list[str] | None:
    if value is None:
        return None
    return [str(v) for v in value] if isinstance(value, list) else ["/bin/sh", "-c", str(value)]


def _environment(where: str, value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, dict):
        return [f"{k}={'' if v is None else v}" for k, v in value.items()]
    if isinstance(value, list):
        return [str(v) for v in value]
    raise SpecError(f"{where}: environment: a list or a mapping")


def _port(where: str, value: Any) -> Port:
    if isinstance(value, dict):
        try:
            return Port(int(value["published"]), int(value["target"]), str(value.get("protocol", "tcp")),
                        str(value.get("mode", "ingress")))
        except (KeyError, ValueError):
            raise SpecError(f"{where}: ports: the long form needs target and published numbers") from None
    m = _SHORT_PORT.match(str(value))
    if m is None or m.group("published") is None:
        raise SpecError(f"{where}: ports: {value!r}: write PUBLISHED:TARGET (or the long form with mode: host)")
    return Port(int(m.group("published")), int(m.group("target")), m.group("protocol") or "tcp")


def probed(compose: Compose, service: str, port: int, mesh: bool) -> ComposeService:
    """The service the load goes to, checked: it exists and publishes `port` in a mode this run can reach."""
    if service not in compose.services:
        raise SpecError(f"{compose.source}: no service {service!r} (it has {', '.join(sorted(compose.services))}): "
                        "set workload.service to one of them")
    svc = compose.services[service]
    found = next((p for p in svc.ports if p.published == port), None)
    if found is None:
        published = ", ".join(str(p.published) for p in svc.ports) or "nothing"
        raise SpecError(f"{compose.source}: service {service} does not publish port {port} (it publishes "
                        f"{published}): set workload.port, or publish it")
    if found.mode != "host" and not mesh:
        raise SpecError(f"{compose.source}: service {service} publishes {port} through the routing mesh "
                        "(ingress): publish it with `mode: host` (long syntax), or use entry mesh")
    return svc


def full_name(stack: str, service: str) -> str:
    return f"{stack}_{service}"


def load_images(clients: Iterable[tuple[str, docker.DockerClient]], archives: Iterable[Path]) -> None:
    """Every archive into every node, as `docker load` does; one line naming the archive and node on failure."""
    paths = list(archives)
    for path in paths:
        if not path.is_file():
            raise SpecError(f"workload.images: {path} does not exist")
    for node, client in clients:
        for path in paths:
            try:
                with open(path, "rb") as f:
                    client.images.load(f.read())
            except (docker.errors.DockerException, OSError) as exc:
                reason = getattr(exc, "explanation", None) or str(exc)
                raise SpecError(f"workload.images: {path} does not load on {node}: {str(reason)[:160]}") from None


def deploy(client: docker.DockerClient, stack: str, compose: Compose) -> None:
    """Networks, then services, named and labelled as `docker stack deploy` would; an existing service of the
    stack is kept (its spec is not compared: `keep_stack` reuses it)."""
    label = {NAMESPACE: stack}
    existing = {n.name for n in client.networks.list(filters={"label": f"{NAMESPACE}={stack}"})}
    for net, options in compose.networks.items():
        name = full_name(stack, net)
        if name not in existing:
            client.networks.create(name, driver=str(options.get("driver", "overlay")), scope="swarm",
                                   attachable=bool(options.get("attachable", False)), labels=label)
    have = {s.name for s in client.services.list(filters={"label": f"{NAMESPACE}={stack}"})}
    for svc in compose.services.values():
        name = full_name(stack, svc.name)
        if name in have:
            continue
        host = any(p.mode == "host" for p in svc.ports)
        ports = {p.published: (p.target, p.protocol, p.mode) for p in svc.ports}
        client.services.create(
            svc.image, name=name, command=svc.entrypoint, args=svc.command, env=svc.environment,
            mode=ServiceMode("global") if svc.mode == "global" else ServiceMode("replicated", replicas=svc.replicas),
            endpoint_spec=EndpointSpec(mode="dnsrr" if host else "vip", ports=ports) if ports else None,
            networks=[full_name(stack, n) for n in svc.networks] or None,
            constraints=svc.constraints or None, maxreplicas=svc.max_replicas_per_node,
            labels={**svc.labels, **label}, container_labels=label,
        )


def remove(client: docker.DockerClient, stack: str) -> None:
    for svc in client.services.list(filters={"label": f"{NAMESPACE}={stack}"}):
        svc.remove()
    deadline_nets = client.networks.list(filters={"label": f"{NAMESPACE}={stack}"})
    for net in deadline_nets:
        try:
            net.remove()
        except docker.errors.APIError:  # tasks still detaching: Swarm removes it with the last one
            continue
