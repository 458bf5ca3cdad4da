"""A campaign's plan and index: which runs, in what order, and what each became. Pure data, no I/O
beyond the index file, so reports read it without the runner (campaign.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

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

INDEX = "index.jsonl"
CAMPAIGN = "campaign.yaml"
DEMO_LAB = "demo"
SEED_TARGETS = ("leader", "follower", "random-worker")


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


def read_index(folder: Path) -> list[CampaignEntry]:
    path = folder / INDEX
    if not path.exists():
        return []
    return [CampaignEntry(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]
