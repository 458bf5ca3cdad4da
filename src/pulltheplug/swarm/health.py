"""Waiting for a cluster to be whole (every engine running, every node Ready, every manager reachable).

Campaigns wait between runs; a single run waits first when asked (`phases.wait_whole`, `--wait-whole`): a
follower back from a NIC cut leaves the managers without an agreed leader for up to half a minute, and a run
started then would measure that aftermath, or fail on it, instead of its own fault.
"""

from __future__ import annotations

import logging
import time

from pulltheplug.cluster.seam import Cluster, gaps
from pulltheplug.errors import ClusterError, PulltheplugError
from pulltheplug.swarm.api import API_ERRORS
from pulltheplug.waiting import wait_until

log = logging.getLogger(__name__)

# what a cluster that misbehaves raises (a daemon gone, a swarm without a leader, a fault that did not take);
# anything else is a bug in pulltheplug, and is said to be one
CLUSTER_FAILURES = (PulltheplugError, *API_ERRORS)


def wait_whole(cluster: Cluster, timeout: float) -> bool:
    def whole() -> bool:
        try:
            return cluster.is_whole()
        except CLUSTER_FAILURES as exc:  # a half-healed swarm may answer oddly: keep waiting
            log.debug("cluster %s not whole yet: %s: %s", cluster.name, type(exc).__name__, exc)
            return False

    return bool(wait_until(whole, timeout, 1.0))


def require_whole(cluster: Cluster, timeout: float) -> float:
    """The seconds waited for the cluster to be whole; ClusterError naming what is missing when it is not
    whole within `timeout`."""
    started = time.monotonic()
    if wait_whole(cluster, timeout):
        return time.monotonic() - started
    try:
        missing = "; ".join(gaps(cluster.status())) or "it was whole as it was read last"
    except CLUSTER_FAILURES as exc:
        missing = f"{type(exc).__name__}: {exc}"
    raise ClusterError(f"cluster {cluster.name} is not whole after {timeout:g}s ({missing}): heal it first "
                       "(`pulltheplug lab status` and `lab heal`, or `pulltheplug cluster check`), or give it more "
                       "time (--wait-whole, phases.wait_whole)")
