"""Everything a run does before its folder exists: the cluster whole, the workload deployed and answering,
the entries and the door, the target picked and the faults planned; any of it can fail as bad input.
"""

from __future__ import annotations

import contextlib
import logging
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from pulltheplug.cluster.seam import Cluster, ClusterNode
from pulltheplug.doors import Door, make_door
from pulltheplug.doors.service_dns import ensure_network
from pulltheplug.doors.service_dns import wait_answering as wait_in_netns
from pulltheplug.errors import SpecError
from pulltheplug.faults import Fault, make_fault
from pulltheplug.faults.base import FaultContext
from pulltheplug.faults.targets import TargetPick, pick_target
from pulltheplug.load.plan import RequestShape
from pulltheplug.run import schedule
from pulltheplug.run.progress import named_entries
from pulltheplug.spec import ExperimentSpec, FaultSpec, RequestSpec
from pulltheplug.swarm import stack, workload
from pulltheplug.swarm.api import API_ERRORS, answering_manager, leader_of, node_rows
from pulltheplug.swarm.health import require_whole

log = logging.getLogger(__name__)


@dataclass
class Prepared:
    entries: dict[str, str]
    nodes: list[str]
    replicas: int
    leader: str | None
    pick: TargetPick | None
    service: str  # the Swarm service under load (a stack's is <stack>_<service>)
    door: Door | None = None  # started by `prepare`, closed by `execute` (or `close_door`)
    fault: Fault | None = None  # planned by `prepare`: a shape the cluster cannot form never gets a folder
    faults: list[Planned] = field(default_factory=list)  # the fault, or a schedule's, each at its offset
    schedule_seed: int | None = None  # a random schedule's


@dataclass(frozen=True)
class Planned:
    at: float  # from the end of the steady phase
    fault: Fault
    pick: TargetPick


def _plan_schedule(spec: ExperimentSpec, plan: Callable[[FaultSpec, int], tuple[TargetPick, Fault]]
                   ) -> tuple[int | None, list[Planned]]:
    """The schedule's faults with their targets; a clash on a node refuses a given schedule and drops the
    later fault of a drawn one. Returns the random schedule's seed (None for a given one)."""
    rs = spec.random_schedule
    seed = None
    if rs is not None:
        seed = rs.seed if rs.seed is not None else random.SystemRandom().randrange(2**31)
        entries = schedule.draw(rs, seed)
        if not entries:
            raise SpecError(f"random_schedule: no fault fits in {rs.length:g}s with faults of {rs.duration:g}s "
                            f"(mean interval {rs.mean_interval:g}s, seed {seed}): make it longer")
    else:
        entries = spec.schedule
    base = random.SystemRandom().randrange(2**31)
    planned = []
    for i, e in enumerate(entries):
        pick, fault = plan(e, e.seed if e.seed is not None else base + i)
        planned.append(Planned(e.at, fault, pick))
    slots = [schedule.Slot(i, p.fault.kind, p.at, p.fault.duration, tuple(p.fault.nodes))
             for i, p in enumerate(planned)]
    if rs is None:
        schedule.check(slots)
        return None, planned
    kept = {s.id for s in schedule.drop_clashing(slots)}
    return seed, [p for i, p in enumerate(planned) if i in kept]


def close_door(prep: Prepared | None) -> None:
    """Stop the front door `prepare` started; idempotent."""
    if prep is None:
        return
    door, prep.door = prep.door, None
    if door is None:
        return
    try:
        for line in door.close():
            log.debug("door: %s", line)
    except Exception as exc:  # the run's own outcome (or error) stands; what is left is said
        log.warning("the front door %s was not closed cleanly: %s: %s (`pulltheplug lab down` removes what is "
                    "left in a lab)", door.kind, type(exc).__name__, exc, exc_info=log.isEnabledFor(logging.DEBUG))


def prepare(spec: ExperimentSpec, cluster: Cluster) -> Prepared:
    """Everything that can fail before a run folder exists: the cluster whole (when asked), workload, entries,
    target."""
    if spec.phases.wait_whole > 0:
        waited = require_whole(cluster, spec.phases.wait_whole)
        log.info("cluster %s whole after %.1f s", cluster.name, waited)
    nodes = cluster.nodes()
    for kind in spec.fault_plan()[0]:
        if kind != "none" and kind not in cluster.fault_kinds:
            raise SpecError(f"fault {kind}: the {cluster.kind} backend cannot inject it yet: use one of "
                            f"{', '.join(sorted(cluster.fault_kinds))}")
    c, swarm_nodes = answering_manager(cluster)
    try:
        w = spec.workload
        replicas = None if w.mode == "global" else (w.replicas or len(nodes))
        mesh = w.entry.kind == "mesh"
        if mesh and (reason := cluster.routing_mesh()) is not None:
            raise SpecError(f"workload.entry mesh needs Swarm's routing mesh, and {reason}: use entry haproxy "
                            "or vip, or nodes")
        service = w.service
        if w.stack is not None:  # your own service: checked whole before anything is loaded or deployed
            compose = stack.read_compose(w.stack)
            svc = stack.probed(compose, w.service, w.port, mesh)
            service, replicas = stack.full_name(w.stack_name, w.service), svc.replicas
            _load_images(cluster, nodes, w.images)
            stack.deploy(c, w.stack_name, compose)
        elif w.deploy:
            _load_images(cluster, nodes, w.images)
            networks = []
            if w.entry.kind == "service-dns":
                ensure_network(c, w.entry.service_dns.network)
                networks = [w.entry.service_dns.network]
            workload.deploy_probe(c, w.service, replicas, w.port, w.image, w.placement, w.max_replicas_per_node,
                                  mesh, networks)
        elif not workload.exists(c, w.service):
            raise SpecError(f"workload.service {w.service} does not exist on {cluster.name}: deploy it, "
                            "or set workload.deploy: true to let pulltheplug deploy the probe")
        workload.wait_running(c, service, replicas or 1, spec.phases.timeout)
        serving = workload.task_node_ids(c, service)
        ids = {r["id"]: r["name"] for r in node_rows(swarm_nodes)}
        with_task = [n for n in nodes if n.name in {ids.get(i) for i in serving}]
        leader = leader_of(swarm_nodes)
        prep = Prepared({}, [n.name for n in nodes], replicas or len(serving), leader, None, service)
        try:
            prep.door = make_door(w, cluster, nodes, spec.load.timeout, service)
            holder, avoid = (prep.door.holder(), prep.door.avoid()) if prep.door is not None else (None, None)

            def plan(f: FaultSpec, seed: int) -> tuple[TargetPick, Fault]:
                # a task-kill needs a task: random picks only among the nodes that run one
                pool = with_task if f.kind == "task-kill" and with_task else nodes
                pick = pick_target(f.target, pool, leader, seed, holder, avoid)
                return pick, make_fault(f.kind, cluster, pick.node, f.duration, f,
                                        FaultContext(nodes, leader, service, seed, [n.name for n in with_task]))

            # an unseeded random pick still gets a seed, recorded, so the run can be repeated
            if spec.schedule or spec.random_schedule is not None:
                prep.schedule_seed, planned = _plan_schedule(spec, plan)
                prep.faults = planned
                prep.pick = planned[0].pick if planned else None
            elif spec.fault.kind != "none":
                seed = spec.fault.seed if spec.fault.seed is not None else random.SystemRandom().randrange(2**31)
                prep.pick, prep.fault = plan(spec.fault, seed)
                prep.faults = [Planned(0.0, prep.fault, prep.pick)]
            # straight to the nodes: those a task serves on (a host-mode port answers only there)
            # the mesh answers on every node, with a task or not
            prep.entries = prep.door.entries() if prep.door is not None else \
                _node_entries(spec, nodes if mesh else (with_task or nodes))
            allowed = {n.address for n in nodes}
            if prep.door is not None:  # the door's own address, which pulltheplug made
                allowed |= {urlsplit(u).hostname or "" for u in prep.entries.values()}
            for url in prep.entries.values():
                workload.check_entry(url, allowed)
            if prep.door is not None and prep.door.netns is not None:  # from inside the swarm
                wait_in_netns(prep.door.netns, prep.entries, spec.phases.timeout)
            else:
                shape = request_shape(w.request)
                workload.wait_answering(prep.entries, spec.phases.timeout, shape.method, shape.body,
                                        shape.expect_status)
        except BaseException:
            close_door(prep)
            if w.stack is not None and not w.keep_stack:  # nothing of a refused run stays deployed
                with contextlib.suppress(*API_ERRORS):
                    stack.remove(c, w.stack_name)
            raise
        return prep
    finally:
        c.close()


def _load_images(cluster: Cluster, nodes: list[ClusterNode], archives: list[Path]) -> None:
    if not archives:
        return
    clients = [(n.name, cluster.docker_client(n.name, timeout=120)) for n in nodes]
    try:
        stack.load_images(clients, archives)
    finally:
        for _, client in clients:
            client.close()


def request_shape(r: RequestSpec) -> RequestShape:
    return RequestShape(method=r.method, body=r.body.encode() if r.body is not None else None,
                        expect_status=r.expect_status,
                        expect_body=re.compile(r.expect_body.encode()) if r.expect_body is not None else None)


def _node_entries(spec: ExperimentSpec, nodes: list[ClusterNode]) -> dict[str, str]:
    w = spec.workload
    path = w.path if w.path.startswith("/") else "/" + w.path
    if w.entries:
        return named_entries(w.entries)
    return {n.name: f"http://{n.address}:{w.port}{path}" for n in nodes}
