"""A campaign's plan: which runs, in what order, each one's spec; and the demo's campaign. Pure functions of
the campaign spec, so reports read a plan without the runner (run/campaign.py)."""

from __future__ import annotations

from dataclasses import dataclass

from pulltheplug.spec.base import SEED_FAULTS, EntryKind
from pulltheplug.spec.campaign import CampaignLabSpec, CampaignSpec
from pulltheplug.spec.experiment import (
    ClusterSpec,
    EntrySpec,
    ExperimentSpec,
    FaultSpec,
    HaproxySpec,
    PhaseSpec,
    SloSpec,
    WorkloadSpec,
    WorstWindowSlo,
)

DEMO_LAB = "demo"
SEED_TARGETS = ("leader", "follower", "random-worker")


@dataclass(frozen=True)
class PlannedRun:
    number: int
    repetition: int
    fault: str
    target: str
    door: str = "nodes"
    doors: int = 1  # how many doors the campaign compares: with more than one, each scenario names its door
    setting: int = 0  # which of the campaign's swarm settings
    settings: str = ""  # its label, when the campaign sweeps more than one
    engine: str = ""  # the engine of every node, when the campaign compares engines

    @property
    def scenario(self) -> str:
        return (f"{self.fault}@{self.target}" + (f" via {self.door}" if self.doors > 1 else "")
                + (f" ({self.settings})" if self.settings else "") + (f" on {self.engine}" if self.engine else ""))


DEMO_DOORS: tuple[EntryKind, ...] = ("nodes", "haproxy", "vip")


def demo_spec(quick: bool) -> CampaignSpec:
    """The seed's faults through three front doors (straight to the nodes, HAProxy, a keepalived VIP), each
    hitting the node the door depends on (the VIP's holder; a seeded random node otherwise), on a 5-node lab;
    quick: the NIC cut only, with shorter phases. HAProxy checks every second and gives up after two misses,
    a common tuning (its defaults, 2 s x 3, would take up to 9 s). The SLOs judge what users felt: 90% ok over
    the fault and recovery, and no 10 s window below 90% (a VIP's 2.4 s blackout fails it; HAProxy's 3 s of one
    request in five failing does not)."""
    base = ExperimentSpec(
        cluster=ClusterSpec(lab=DEMO_LAB),
        slo=SloSpec(availability=0.9, max_outage=30.0, recover_within=120.0,
                    worst_window=WorstWindowSlo(window=10.0, at_least=0.9)),
        workload=WorkloadSpec(entry=EntrySpec(haproxy=HaproxySpec(inter=1.0, fall=2, rise=2))),
    )
    if quick:
        base = base.model_copy(update={"fault": FaultSpec(duration=10.0),
                                       "phases": PhaseSpec(steady=5.0, settle=5.0)})
    return CampaignSpec(
        name="demo-quick" if quick else "demo",
        base=base,
        faults=["nic-down"] if quick else list(SEED_FAULTS),
        targets=["door"],
        doors=list(DEMO_DOORS),
        repetitions=1,
        lab=CampaignLabSpec(nodes=5, managers=3),
    )


def plan_runs(spec: CampaignSpec) -> list[PlannedRun]:
    """Repetition-major order, so a slow drift of the machine spreads over every scenario alike; the doors
    of one fault and target run one after the other, so they are compared on the same machine state. Engines
    outermost: the lab is rebuilt once per engine."""
    out: list[PlannedRun] = []
    sweep = len(spec.settings) > 1
    engines: list[str] = list(spec.engines) or [""]
    for engine in engines:
        for rep in range(1, spec.repetitions + 1):
            for fault in spec.faults:
                for target in spec.targets:
                    for door in spec.doors:
                        for i, setting in enumerate(spec.settings):
                            out.append(PlannedRun(len(out) + 1, rep, fault, target, door, len(spec.doors), i,
                                                  setting.label if sweep else "", engine))
    return out


def run_spec(spec: CampaignSpec, run: PlannedRun) -> ExperimentSpec:
    via = f"-{run.door}" if run.doors > 1 else ""
    on = f"-{run.engine}" if run.engine else ""
    name = f"{run.number:03d}-{run.fault}-{run.target}{via}{on}-r{run.repetition}"
    fault = spec.base.fault.model_copy(update={"kind": run.fault, "target": run.target})
    entry = spec.base.workload.entry.model_copy(update={"kind": run.door})
    workload = spec.base.workload.model_copy(update={"entry": entry})
    return spec.base.model_copy(update={"fault": fault, "name": name, "workload": workload,
                                        "swarm": spec.settings[run.setting]})
