"""Opening the cluster a spec names: the one place that knows every backend (the CLI calls it).

The runner, campaigns, the observer and faults get a `Cluster` and never import a backend.
"""

from __future__ import annotations

from pulltheplug.cluster import Cluster
from pulltheplug.errors import SpecError
from pulltheplug.spec import ClusterSpec


def open_cluster(spec: ClusterSpec) -> Cluster:
    if spec.kind == "lab":
        from pulltheplug.lab import lab as labmod

        return labmod.require_up(spec.lab)
    raise SpecError(f"cluster kind {spec.kind} ({spec.hosts}) cannot run experiments yet: "
                    "use `pulltheplug cluster check` on it, and a lab (`kind: lab`) for runs")
