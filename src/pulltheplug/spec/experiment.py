"""The experiment spec: YAML validated with pydantic; errors name the field and its line.

Every measured constant (rates, timeouts, intervals, phase lengths) lives here with a default.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    Field,
    GetJsonSchemaHandler,
    field_validator,
    model_validator,
)
from pydantic_core import CoreSchema

from pulltheplug.spec.base import (
    PROBE_IMAGE,
    TARGET_KEYWORDS,
    Duration,
    EngineRelease,
    EntryKind,
    FaultKind,
    Strict,
    read_text,
    validated,
)


class ClusterSpec(Strict):
    """Which cluster the run breaks: a lab made here (`kind: lab`, the default) or hosts over SSH."""

    kind: Literal["lab", "ssh"] = "lab"
    lab: str = Field("lab", pattern=r"^[a-z][a-z0-9]{0,7}$", description="Name of the lab to run on.")
    hosts: Path | None = Field(None, description="kind ssh: the inventory: ours (`hosts:`) or an Ansible "
                              "one (INI, YAML, a folder; read through ansible-inventory where Ansible is installed).")
    known_hosts: Path | None = Field(None, description="kind ssh: host keys (default ~/.config/pulltheplug/).")

    @model_validator(mode="after")
    def _hosts_for_ssh(self) -> ClusterSpec:
        if self.kind == "ssh" and self.hosts is None:
            raise ValueError("cluster kind ssh needs `hosts: INVENTORY.yaml`")
        return self


class HaproxySpec(Strict):
    """HAProxy's own health-check defaults (inter 2 s, fall 3, rise 2); a connect timeout it would warn without."""

    inter: Duration = Field(2.0, gt=0, description="Seconds between health checks of each node.")
    fall: int = Field(3, ge=1, le=100, description="Failed checks in a row before a node is marked down.")
    rise: int = Field(2, ge=1, le=100, description="Passed checks in a row before a node is marked up again.")
    connect_timeout: Duration = Field(1.0, gt=0, description="HAProxy's `timeout connect` (checks and requests).")
    redispatch: bool = Field(False, description="`option redispatch`: retry a failed connect on another node.")


class VipSpec(Strict):
    """A virtual IP that keepalived (VRRP) moves between the nodes, one keepalived per node."""

    address: str | None = Field(None, description="The VIP; default in the lab: the subnet's last address but one.")
    advert_int: Duration = Field(1.0, gt=0, le=255, description="VRRP advertisement interval (keepalived's default).")
    interface: str = Field("eth0", pattern=r"^[A-Za-z0-9_.:@-]{1,15}$")
    router_id: int = Field(51, ge=1, le=255, description="virtual_router_id: unique on the network.")


class ServiceDnsSpec(Strict):
    """Requests from a client container inside the swarm, by service name through Swarm's DNS."""

    client_node: str | None = Field(None, description="Where the client container runs (default: the last "
                                    "node); the fault never picks it.")
    network: str = Field("ptp-net", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$",
                         description="The attachable overlay network the service and the client share.")
    target_port: int = Field(80, ge=1, le=65535, description="The port the service's tasks listen on.")


class _KindAlone:
    """The schema says what `EntrySpec._kind_alone` accepts: `entry: haproxy` as well as `entry: {kind: ...}`."""

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> dict[str, Any]:
        return {"anyOf": [handler(schema), {"type": "string", "enum": list(get_args(EntryKind)),
                                            "description": "Short for {kind: ...}."}]}


class EntrySpec(Strict):
    """How requests reach the service: `nodes` (each node's published port, round robin) or a front door."""

    kind: EntryKind = Field("nodes", description="nodes: straight to each node; haproxy: through a real HAProxy "
                            "with health checks, started by pulltheplug at the lab's edge; vip: to a virtual IP "
                            "keepalived moves between the nodes; mesh: Swarm's routing mesh (ingress), any node's "
                            "address, where the kernel has IP_VS; service-dns: from a container inside the "
                            "swarm, by service name.")
    haproxy: HaproxySpec = Field(default_factory=HaproxySpec)
    vip: VipSpec = Field(default_factory=VipSpec)
    service_dns: ServiceDnsSpec = Field(default_factory=ServiceDnsSpec)

    @model_validator(mode="before")
    @classmethod
    def _kind_alone(cls, value: Any) -> Any:
        """`entry: haproxy` is short for `entry: {kind: haproxy}`."""
        return {"kind": value} if isinstance(value, str) else value


class RequestSpec(Strict):
    """What each request of the load is, and what a good answer is."""

    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    body: str | None = Field(None, description="Request body (sent as is).")
    expect_status: int | None = Field(None, ge=100, le=599, description="Default: any 2xx.")
    expect_body: str | None = Field(None, description="A regular expression the answer's body must match.")

    @field_validator("expect_body")
    @classmethod
    def _a_regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from exc
        return value


class WorkloadSpec(Strict):
    service: str = "ptp-web"
    image: str = Field(PROBE_IMAGE, description="The probe's image: the lab's own, or on real hosts any image "
                       "with busybox sh and httpd (busybox:1.36 runs on amd64, arm64 and armv7); see probe.py.")
    deploy: bool = Field(True, description="Deploy (or reuse) the service; false: it must exist.")
    replicas: int | None = Field(None, ge=1, description="Default: one per node (replicated mode).")
    mode: Literal["replicated", "global"] = Field("replicated", description="global: one task on every node "
                                                  "the placement allows.")
    max_replicas_per_node: int | None = Field(None, ge=1, description="Swarm's placement max replicas per node.")
    placement: list[str] = Field(default_factory=list, description="Swarm placement constraints, e.g. "
                                 "node.role==worker, node.hostname!=node1.")
    port: int = Field(8080, ge=1, le=65535)
    path: str = "/"
    entries: list[str] = Field(default_factory=list, description="Entry URLs; default: every node's port.")
    entry: Annotated[EntrySpec, _KindAlone()] = Field(default_factory=EntrySpec)
    request: RequestSpec = Field(default_factory=RequestSpec)
    remove_after: bool = Field(False, description="Remove the service when the run ends.")
    stack: Path | None = Field(None, description="Your own service: a compose file deployed as a Swarm stack; "
                               "`service` names the one to load, `port` its published port (mode: host).")
    stack_name: str = Field("ptp", pattern=r"^[a-z0-9][a-z0-9_-]{0,30}$")
    keep_stack: bool = Field(False, description="Leave the stack deployed after the run (default: removed).")
    images: list[Path] = Field(default_factory=list, description="Image archives (`docker save`) loaded into "
                               "every node first: nothing is pulled in the lab.")

    @model_validator(mode="after")
    def _stack_shapes_itself(self) -> WorkloadSpec:
        if self.stack is not None and (self.replicas is not None or self.mode != "replicated" or self.placement
                                       or self.max_replicas_per_node is not None or self.image != PROBE_IMAGE):
            raise ValueError("with a stack, image, replicas, mode and placement come from the compose file")
        return self

    @model_validator(mode="after")
    def _replicas_only_when_replicated(self) -> WorkloadSpec:
        if self.mode == "global" and (self.replicas is not None or self.max_replicas_per_node is not None):
            raise ValueError("mode global runs one task per node: drop replicas and max_replicas_per_node")
        return self

    @model_validator(mode="after")
    def _entries_only_for_nodes(self) -> WorkloadSpec:
        if self.entries and self.entry.kind != "nodes":
            raise ValueError(f"entries are for entry kind nodes; entry {self.entry.kind} makes its own")
        return self


class LoadSpec(Strict):
    rate: float = Field(200, gt=0, le=20000, description="Requests per second, open loop.")
    timeout: Duration = 1.0
    max_in_flight: int = Field(4000, ge=1, description="Cap on concurrent requests (sockets).")
    client: Literal["fast", "aiohttp"] = Field(
        "fast", description="fast: raw protocols and a C parser (plain http); aiohttp: aiohttp's client, always "
        "used for https entries and for service-dns doors.")
    keep_alive: bool = Field(True, description="Pooled keep-alive connections (false: a new one per request).")

    @model_validator(mode="after")
    def _keep_alive_off_needs_the_fast_client(self) -> LoadSpec:
        if not self.keep_alive and self.client != "fast":
            raise ValueError("keep_alive: false needs client: fast (aiohttp's client keeps its connections)")
        return self


class PartitionSpec(Strict):
    """Who is cut from whom. Clients (the controller, a front door) always reach every node."""

    shape: Literal["isolate", "managers-split", "one-way", "groups"] = Field(
        "isolate", description="isolate: the target from every other node; managers-split: a minority of managers "
        "(with the target) from the majority; one-way: the target sends but receives nothing from the other nodes; "
        "groups: as listed.")
    groups: list[list[str]] = Field(default_factory=list, description="shape groups: node names per side.")

    @model_validator(mode="after")
    def _groups_with_their_shape(self) -> PartitionSpec:
        if (self.shape == "groups") != bool(self.groups):
            raise ValueError("give groups with shape: groups, and only then")
        return self


class FlapSpec(Strict):
    period: Duration = Field(4.0, gt=0, description="One down-then-up cycle of the link.")
    down: Duration = Field(1.0, gt=0, description="How long the link is down in each period.")

    @model_validator(mode="after")
    def _down_within_period(self) -> FlapSpec:
        if self.down >= self.period:
            raise ValueError(f"flap down {self.down}s must be shorter than its period {self.period}s")
        return self


class UpgradeSpec(Strict):
    """kind engine-upgrade: each node's engine stopped gracefully, swapped to another release's, started again,
    and waited for until Ready, one node at a time."""

    to: EngineRelease = Field("trixie", description="The Debian release whose engine the nodes get.")
    drain: bool = Field(False, description="Drain each node first (its tasks moved away), and make it active "
                        "again once it is back.")
    rolling: bool = Field(False, description="After the target, every other node whose engine differs: workers, "
                          "then followers, then the leader.")
    order: list[str] = Field(default_factory=list, description="The nodes after the target, in this order "
                             "(instead of rolling's).")
    ready_timeout: Duration = Field(180.0, gt=0, description="Longest wait for each node to be Ready again.")


class FaultSpec(Strict):
    kind: FaultKind = "nic-down"
    target: str = "random"
    duration: Duration = 20.0
    seed: int | None = None
    partition: PartitionSpec = Field(default_factory=PartitionSpec)
    loss: float = Field(20.0, gt=0, le=100, description="kind loss: percent of the target's packets dropped, "
                        "each way.")
    flap: FlapSpec = Field(default_factory=FlapSpec)
    upgrade: UpgradeSpec = Field(default_factory=UpgradeSpec)

    @field_validator("target")
    @classmethod
    def _target_is_known(cls, t: str) -> str:
        if t not in TARGET_KEYWORDS and not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", t):
            raise ValueError(f"{t!r}: use a node name or one of {', '.join(TARGET_KEYWORDS)}")
        return t


def known_targets(targets: list[str]) -> list[str]:
    for t in targets:
        FaultSpec._target_is_known(t)
    return targets


class ScheduledFault(FaultSpec):
    at: Duration = Field(0.0, description="Start, from the end of the steady phase.")


class RandomScheduleSpec(Strict):
    """A soak: faults arrive at random (Poisson, seeded), kinds and targets drawn from lists; the drawn schedule
    is recorded in the run, so the same seed gives the same run."""

    length: Duration = Field(600.0, gt=0, description="How long faults keep arriving.")
    mean_interval: Duration = Field(60.0, gt=0, description="Mean time between two fault starts.")
    kinds: list[FaultKind] = Field(default_factory=lambda: list[FaultKind](["nic-down"]), min_length=1)
    targets: list[str] = Field(default_factory=lambda: ["random"], min_length=1)
    duration: Duration = Field(10.0, gt=0, description="Each fault's length.")
    seed: int | None = Field(None, description="Default: drawn, and recorded.")

    _targets_are_known = field_validator("targets")(known_targets)

    @field_validator("kinds")
    @classmethod
    def _no_none(cls, ks: list[FaultKind]) -> list[FaultKind]:
        if "none" in ks:
            raise ValueError("kinds: none is not a fault to draw")
        if "engine-upgrade" in ks:
            raise ValueError("kinds: engine-upgrade is not a fault to draw (it lasts minutes and stays): run it alone")
        return ks


class SwarmSettingsSpec(Strict):
    """Swarm settings for the run (`docker swarm update`), recorded in the run and restored after it. Raft's
    election and heartbeat ticks are not among them: a running swarm ignores changes to them."""

    dispatcher_heartbeat: Duration | None = Field(None, gt=0, description="How often nodes report to the managers "
                                                  "(Swarm's default 5s; a node is marked Down after about 3 missed).")
    task_history_limit: int | None = Field(None, ge=0, description="Old tasks kept per slot (default 5).")

    @property
    def label(self) -> str:
        parts = [f"heartbeat {self.dispatcher_heartbeat:g}s" if self.dispatcher_heartbeat is not None else "",
                 f"task history {self.task_history_limit}" if self.task_history_limit is not None else ""]
        return ", ".join(p for p in parts if p) or "as found"


class PhaseSpec(Strict):
    steady: Duration = 10.0
    settle: Duration = Field(10.0, description="Requests healthy this long after convergence ends the run.")
    timeout: Duration = Field(180.0, description="Longest observation after the revert.")
    wait_whole: Duration = Field(60.0, ge=0, description="First wait up to this long for the cluster to be whole "
                                 "(every engine running, every node Ready, every manager reachable); refuse the "
                                 "run when it is not, so back-to-back runs measure their own fault, not the last "
                                 "one's aftermath. 0: start at once, whatever its state.")


class ObserveSpec(Strict):
    interval: Duration = Field(0.25, gt=0, le=5)
    request_timeout: Duration = Field(2.0, description="One observer call to a manager.")


FindingRule = Literal["aftershock", "collateral", "never-detected", "slow-detection", "slow-recovery", "not-restored",
                      "split-view", "flapping", "unsound-measurement"]  # see analysis/findings.py


AvailabilityOf = Literal["fault_and_recovery", "run", "steady", "fault", "recovery"]


class WorstWindowSlo(Strict):
    """The worst availability over every window of `window` seconds must be at least `at_least`."""

    window: Duration = Field(gt=0, description="The window size, e.g. 1s (computed even when `analysis.windows` "
                             "leaves it out).")
    at_least: float = Field(ge=0, le=1, description="Minimal ok/sent in the worst such window.")


class SloSpec(Strict):
    availability: float | None = Field(None, ge=0, le=1, description="Minimal ok/due, over the phases "
                                       "`availability_of` names.")
    availability_of: AvailabilityOf = Field(
        "fault_and_recovery", description="Which requests `availability` judges, by due time: fault_and_recovery "
        "(default: from the fault start on, so a long steady phase does not dilute it; a run without a fault is "
        "judged over the run), run, steady, fault or recovery.")
    max_outage: Duration | None = Field(None, description="Longest run of consecutive failures on one entry point. "
                                        "Behind a round-robin door failures interleave with ok answers and this "
                                        "stays tiny: use worst_window for what users felt.")
    worst_window: WorstWindowSlo | list[WorstWindowSlo] | None = Field(
        None, description="Worst windowed availability, e.g. {window: 1s, at_least: 0.9}, or a list of them.")
    recover_within: Duration | None = Field(None, description="Fault start until requests healthy again.")
    p99_latency: Duration | None = Field(None, description="Longest p99 latency from due time, overall.")
    p99_latency_of: Literal["all", "ok"] = Field(
        "all", description="Which requests p99_latency checks: all that ended (a timeout at its timeout), or ok only.")
    no_findings: list[FindingRule] = Field(default_factory=list, description="Findings that fail the run when found "
                                           "(e.g. [aftershock, collateral]).")


def _windows_are_distinct(windows: list[float]) -> list[float]:
    if any(w <= 0 for w in windows):
        raise ValueError("a window size must be longer than 0s")
    return sorted(set(windows))


class RecoveryAnalysisSpec(Strict):
    ignore_below: int = Field(0, ge=0, description="Leave out of 'requests healthy' the outages of fewer failed "
                              "requests than this (stray blips); 0: exact, every failure counts.")


class AnalysisSpec(Strict):
    """How the records are judged; kept in the run, so `pulltheplug report` judges a run folder alike."""

    windows: list[Duration] = Field(default_factory=lambda: [1.0, 10.0, 60.0], min_length=1,
                                    description="Window sizes of the worst windowed availability (see README).")
    recovery: RecoveryAnalysisSpec = Field(default_factory=RecoveryAnalysisSpec)

    _distinct = field_validator("windows")(_windows_are_distinct)


class ExperimentSpec(Strict):
    name: str = Field("experiment", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    cluster: ClusterSpec = Field(default_factory=ClusterSpec)
    workload: WorkloadSpec = Field(default_factory=WorkloadSpec)
    load: LoadSpec = Field(default_factory=LoadSpec)
    fault: FaultSpec = Field(default_factory=FaultSpec)
    schedule: list[ScheduledFault] = Field(default_factory=list, description="Several faults, each at its offset "
                                           "(sequential or overlapping on different nodes); replaces `fault`.")
    random_schedule: RandomScheduleSpec | None = Field(None, description="Faults drawn at random; replaces `fault`.")
    swarm: SwarmSettingsSpec = Field(default_factory=SwarmSettingsSpec)
    phases: PhaseSpec = Field(default_factory=PhaseSpec)
    observe: ObserveSpec = Field(default_factory=ObserveSpec)
    slo: SloSpec = Field(default_factory=SloSpec)
    analysis: AnalysisSpec = Field(default_factory=AnalysisSpec)

    def fault_plan(self) -> tuple[list[str], list[str]]:
        """The fault kinds and targets the run may use: the fault's, a schedule's, or a random schedule's lists."""
        if self.schedule:
            return [f.kind for f in self.schedule], [f.target for f in self.schedule]
        if self.random_schedule is not None:
            return list(self.random_schedule.kinds), list(self.random_schedule.targets)
        return [self.fault.kind], [self.fault.target]

    @model_validator(mode="after")
    def _one_way_to_give_faults(self) -> ExperimentSpec:
        given = [k for k, v in (("fault", self.fault != FaultSpec()), ("schedule", bool(self.schedule)),
                                ("random_schedule", self.random_schedule is not None)) if v]
        if len(given) > 1:
            raise ValueError(f"give one of fault, schedule or random_schedule, not {' and '.join(given)}")
        if any(f.kind == "none" for f in self.schedule):
            raise ValueError("schedule: leave out `none` entries")
        return self


def parse_spec(text: str, source: str = "spec") -> ExperimentSpec:
    spec: ExperimentSpec = validated(ExperimentSpec, text, source)
    return spec


def load_spec(path: Path) -> ExperimentSpec:
    return parse_spec(read_text(path, f"cannot read spec {path}"), str(path))
