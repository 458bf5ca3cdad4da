"""A campaign: the fault x target x repetition matrix (campaign_plan.py), run back to back on one cluster.

Between runs the cluster must be whole again (every node Ready, every manager reachable, every engine
running); where it does not heal in time, it is rebuilt (a lab can be; other clusters stop the
campaign), and the index says so. Each run is an ordinary run folder inside the campaign folder, so every
single-run report still works.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import asdict
from pathlib import Path

import yaml

from pulltheplug.cluster.seam import Cluster
from pulltheplug.errors import PulltheplugError, SpecError
from pulltheplug.records.campaign_index import CAMPAIGN, INDEX, CampaignEntry
from pulltheplug.records.folder import load_meta
from pulltheplug.run import experiment
from pulltheplug.run.events import RunEvents
from pulltheplug.spec import CampaignSpec
from pulltheplug.spec.campaign_plan import plan_runs, run_spec
from pulltheplug.swarm.health import CLUSTER_FAILURES, wait_whole

log = logging.getLogger(__name__)

def run_campaign(
    spec: CampaignSpec,
    cluster: Cluster,
    runs_dir: Path,
    events: RunEvents | None = None,
) -> Path:
    """Run the whole matrix on `cluster`; returns the campaign folder. Ctrl-C stops after saving the current
    run. `events` hears each run's events (as in `experiment.execute`), each run's start and the campaign's
    notes."""
    if spec.engines and cluster.kind != "lab":
        raise SpecError(f"engines: {cluster.name} is not a lab: only a lab's engines can be chosen (drop `engines:`)")
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = runs_dir / f"{stamp}-campaign-{spec.name}"
    folder.mkdir(parents=True)
    (folder / CAMPAIGN).write_text(yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False))
    plan = plan_runs(spec)
    events = events or RunEvents()
    note = events.noted
    for run in plan:
        rebuilt = False
        if run.engine and _engines(cluster) != {run.engine}:  # the lab on another engine (or a run changed one)
            note(f"run {run.number}: rebuilding {cluster.name} with engine {run.engine} on every node")
            try:
                cluster.rebuild(engine=run.engine)
            except PulltheplugError as exc:
                note(f"cluster {cluster.name} cannot be rebuilt with engine {run.engine} ({exc}): stopping")
                break
            rebuilt = True
        if not wait_whole(cluster, spec.healthy_timeout):
            if not spec.rebuild_lab:
                note(f"cluster not whole before run {run.number}: stopping (rebuild_lab is off)")
                break
            note(f"cluster not whole before run {run.number}: rebuilding it")
            try:
                cluster.rebuild(engine=run.engine or None)
            except PulltheplugError as exc:
                note(f"cluster {cluster.name} cannot be rebuilt ({exc}): stopping")
                break
            rebuilt = True
        events.campaign_run(run, len(plan))
        exp = run_spec(spec, run)
        text = yaml.safe_dump(exp.model_dump(mode="json"), sort_keys=False)
        try:
            run_folder = experiment.execute(exp, text, cluster, folder, events)
            meta = load_meta(run_folder)  # the records stay unread: the run summarized them once
            status, converged, name = meta.status, "converged" in meta.phases, run_folder.name
        except Exception as exc:  # one failed run is a result of the campaign, not its end
            if isinstance(exc, CLUSTER_FAILURES):
                log.debug("run %d failed", run.number, exc_info=True)
            else:
                log.error("run %d failed on a bug in pulltheplug, not on the cluster", run.number, exc_info=True)
            note(f"run {run.number} failed: {exc}")
            made = sorted(folder.glob(f"*-{exp.name}"))
            status, converged, name = "failed", False, made[-1].name if made else ""
        entry = CampaignEntry(run.number, run.scenario, run.fault, run.target, run.repetition,
                              name, status, converged, rebuilt, run.door, run.settings, run.engine)
        with open(folder / INDEX, "a") as f:
            f.write(json.dumps(asdict(entry)) + "\n")
        if status == "interrupted":
            note("interrupted: the campaign stops here; what ran is kept")
            break
    return folder


def _engines(cluster: Cluster) -> set[str]:
    """The releases the cluster's nodes run now, as it describes them."""
    nodes = cluster.describe().get("nodes")
    return {str(n.get("engine", "")) for n in nodes if isinstance(n, dict)} if isinstance(nodes, list) else set()
