"""Opening the cluster a spec names: the one place that knows every backend (the CLI calls it).

The runner, campaigns, the observer and faults get a `Cluster` and never import a backend.
"""

from __future__ import annotations

from collections.abc import Sequence

from pulltheplug.cluster.seam import Cluster
from pulltheplug.spec import ClusterSpec


def open_cluster(spec: ClusterSpec, faults: Sequence[str], targets: Sequence[str] = ()) -> Cluster:
    """The lab must be up; SSH hosts must pass `cluster check` for the planned `faults` on the hosts they
    may hit (`targets` as the spec names them: node names, or leader, random...), else exit 2."""
    if spec.kind == "lab":
        from pulltheplug.lab import lab as labmod

        return labmod.require_up(spec.lab)
    from pulltheplug.ssh.cluster import SshCluster

    return SshCluster(spec, [f for f in faults if f != "none"], targets)
