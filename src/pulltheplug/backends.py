"""Opening the cluster a spec names: the one place that knows every backend (the CLI and `pulltheplug.api` call it).

The runner, campaigns, the observer and faults get a `Cluster` and never import a backend. It sits above the
runners and below both front ends, so a team's Python tests open clusters exactly as `pulltheplug run` does.
"""

from __future__ import annotations

from collections.abc import Sequence

from pulltheplug.cluster.seam import Cluster
from pulltheplug.errors import ClusterError
from pulltheplug.spec import ClusterSpec


def open_cluster(spec: ClusterSpec, faults: Sequence[str], targets: Sequence[str] = ()) -> Cluster:
    """The lab must be up; SSH hosts must pass `cluster check` for the planned `faults` on the hosts they
    may hit (`targets` as the spec names them: node names, or leader, random...), else exit 2."""
    if spec.kind == "lab":
        from pulltheplug.lab import lab as labmod
        from pulltheplug.lab.state import load_state

        state = load_state(spec.lab)
        if state is not None and state.kind == "vm":  # a VM lab's machines are reached over SSH
            from pulltheplug.vmlab import lab as vmlab

            if state.status != "up":
                raise ClusterError(f"lab {spec.lab!r} is half made: run `pulltheplug lab down --name {spec.lab}`, "
                                   "then up again")
            from pulltheplug.ssh.cluster import SshCluster

            machines = SshCluster(vmlab.cluster_spec(state), [f for f in faults if f != "none"], targets)
            machines.name = state.plan.name  # the lab's name in meta.json and reports, not its inventory's
            return machines
        return labmod.require_up(spec.lab)
    from pulltheplug.ssh.cluster import SshCluster

    return SshCluster(spec, [f for f in faults if f != "none"], targets)
