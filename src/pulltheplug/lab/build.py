"""Making a lab from its plan: the hub and each node's network, one dockerd per node, the probe image, the swarm
(init on node1, workers and managers joining), until every node is Ready."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from pulltheplug.errors import LabError
from pulltheplug.lab import daemon, engines, image, network
from pulltheplug.lab.plan import NodePlan
from pulltheplug.lab.state import LabState, save_state
from pulltheplug.swarm import form as swarm_form

log = logging.getLogger(__name__)


def build(state: LabState, progress: Callable[[str], None]) -> None:
    plan = state.plan
    engines.ensure([n.engine for n in plan.nodes], progress)
    progress(f"network {plan.subnet}, starting {len(plan.nodes)} dockerd")
    network.create_hub(plan)
    for n in plan.nodes:  # each daemon starts as soon as its node's network exists
        network.create_node_net(plan, n)
        if network.has_default_route(n.netns):
            raise LabError(f"node {n.name} has a default route: refusing to go on")
        state.pids[n.name] = daemon.boot(n)
    save_state(state)
    tar = image.rootfs_tar()
    with ThreadPoolExecutor(max_workers=min(32, 3 * len(plan.nodes))) as pool:
        ready = {n.name: pool.submit(daemon.wait_ready, n, state.pids[n.name]) for n in plan.nodes}
        clients = {n.name: daemon.client(n, timeout=60) for n in plan.nodes}

        def import_on(n: NodePlan) -> None:
            ready[n.name].result()
            image.import_probe(clients[n.name], tar)

        def join(n: NodePlan, token: str) -> None:
            ready[n.name].result()
            swarm_form.join(clients[n.name], n.address, first.address, token)

        # the swarm starts on node1 while the other daemons are still starting; the image imports and the
        # worker joins run as each daemon answers; managers join one at a time (raft grows one by one)
        first = plan.nodes[0]
        state.engine_version = ready[first.name].result()
        progress("importing the probe image, swarm init")
        imports = [pool.submit(import_on, n) for n in plan.nodes]
        tokens = swarm_form.init(clients[first.name], first.address)
        progress("nodes join")
        joins = [pool.submit(join, n, tokens["worker"]) for n in plan.workers]
        for n in plan.managers[1:]:
            progress(f"manager {n.name} joins")
            join(n, tokens["manager"])
        for f in [*imports, *joins]:
            f.result()
        state.engine_versions = {n.name: ready[n.name].result() for n in plan.nodes}
    progress("waiting for every node Ready")
    swarm_form.wait_converged(clients[first.name],
                              [swarm_form.Member(n.name, n.address, n.role) for n in plan.nodes])
    for c in clients.values():
        c.close()
    state.status = "up"
    save_state(state)
