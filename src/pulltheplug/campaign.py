"""A campaign: the fault x target x repetition matrix, run back to back on one lab.

Between runs the lab must be whole again (every node Ready, every manager reachable, every daemon alive);
where it does not heal in time, it is rebuilt, and the index says so. Each run is an ordinary run folder
inside the campaign folder, so every single-run report still works.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from pulltheplug import experiment
from pulltheplug.errors import PulltheplugError
from pulltheplug.lab import lab as labmod
from pulltheplug.record import load_meta
from pulltheplug.spec import (
    SEED_FAULTS,
    CampaignLabSpec,
    CampaignSpec,
    ClusterSpec,
    ExperimentSpec,
    FaultSpec,
    PhaseSpec,
    SloSpec,
)
from pulltheplug.swarm_api import API_ERRORS

log = logging.getLogger(__name__)

INDEX = "index.jsonl"
CAMPAIGN = "campaign.yaml"
DEMO_LAB = "demo"
SEED_TARGETS = ("leader", "follower", "random-worker")
# what a cluster that misbehaves raises (a daemon gone, a swarm without a leader, a fault that did not take);
# anything else is a bug in pulltheplug, and is said to be one
CLUSTER_FAILURES = (PulltheplugError, *API_ERRORS)


@dataclass(frozen=True)
class PlannedRun:
    number: int
    repetition: int
    fault: str
    target: str

    @property
    def scenario(self) -> str:
        return f"{self.fault}@{self.target}"


@dataclass(frozen=True)
class CampaignEntry:
    number: int
    scenario: str
    fault: str
    target: str
    repetition: int
    folder: str  # relative to the campaign folder
    status: str
    converged: bool
    rebuilt_before: bool


def demo_spec(quick: bool) -> CampaignSpec:
    """The seed's matrix, once over, on a 5-node lab; quick: shorter phases and a random target only."""
    base = ExperimentSpec(
        cluster=ClusterSpec(lab=DEMO_LAB),
        slo=SloSpec(availability=0.9, max_outage=30.0, recover_within=120.0),
    )
    if quick:
        base = base.model_copy(update={"fault": FaultSpec(duration=10.0),
                                       "phases": PhaseSpec(steady=5.0, settle=5.0)})
    return CampaignSpec(
        name="demo-quick" if quick else "demo",
        base=base,
        faults=list(SEED_FAULTS),
        targets=["random"] if quick else list(SEED_TARGETS),
        repetitions=1,
        lab=CampaignLabSpec(nodes=5, managers=3),
    )


def plan_runs(spec: CampaignSpec) -> list[PlannedRun]:
    """Repetition-major order, so a slow drift of the machine spreads over every scenario alike."""
    out: list[PlannedRun] = []
    for rep in range(1, spec.repetitions + 1):
        for fault in spec.faults:
            for target in spec.targets:
                out.append(PlannedRun(len(out) + 1, rep, fault, target))
    return out


def run_spec(spec: CampaignSpec, run: PlannedRun) -> ExperimentSpec:
    name = f"{run.number:03d}-{run.fault}-{run.target}-r{run.repetition}"
    fault = spec.base.fault.model_copy(update={"kind": run.fault, "target": run.target})
    return spec.base.model_copy(update={"fault": fault, "name": name})


def lab_is_whole(lab: labmod.Lab) -> bool:
    rows = lab.status()
    return all(r.daemon and r.state == "ready" for r in rows) and all(
        r.manager in ("leader", "reachable") for r in rows if r.role == "manager"
    )


def wait_whole(lab: labmod.Lab, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if lab_is_whole(lab):
                return True
        except CLUSTER_FAILURES as exc:  # a half-healed swarm may answer oddly: keep waiting
            log.debug("lab %s not whole yet: %s: %s", lab.name, type(exc).__name__, exc)
        time.sleep(1)
    return False


def read_index(folder: Path) -> list[CampaignEntry]:
    path = folder / INDEX
    if not path.exists():
        return []
    return [CampaignEntry(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


def run_campaign(
    spec: CampaignSpec,
    runs_dir: Path,
    on_run: Callable[[PlannedRun, int], None] | None = None,
    on_progress: Callable[[experiment.RunProgress], None] | None = None,
    on_note: Callable[[str], None] | None = None,
) -> Path:
    """Run the whole matrix; returns the campaign folder. Ctrl-C stops after saving the current run."""
    lab_name = spec.base.cluster.lab
    lab = labmod.require_up(lab_name)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = runs_dir / f"{stamp}-campaign-{spec.name}"
    folder.mkdir(parents=True)
    (folder / CAMPAIGN).write_text(yaml.safe_dump(spec.model_dump(), sort_keys=False))
    plan = plan_runs(spec)
    note = on_note or (lambda _: None)
    for run in plan:
        rebuilt = False
        if not wait_whole(lab, spec.healthy_timeout):
            if not spec.rebuild_lab:
                note(f"lab not whole before run {run.number}: stopping (rebuild_lab is off)")
                break
            note(f"lab not whole before run {run.number}: rebuilding it")
            labmod.down(lab_name)
            lab = labmod.up(lab_name, spec.lab.nodes, spec.lab.managers)
            rebuilt = True
        if on_run:
            on_run(run, len(plan))
        exp = run_spec(spec, run)
        text = yaml.safe_dump(exp.model_dump(), sort_keys=False)
        try:
            run_folder = experiment.execute(exp, text, lab, folder, on_progress)
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
                              name, status, converged, rebuilt)
        with open(folder / INDEX, "a") as f:
            f.write(json.dumps(asdict(entry)) + "\n")
        if status == "interrupted":
            note("interrupted: the campaign stops here; what ran is kept")
            break
    return folder
