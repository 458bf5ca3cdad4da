"""A campaign: a matrix of faults x targets x doors x repetitions, run back to back on one lab."""

from __future__ import annotations

from pathlib import Path

from pydantic import (
    Field,
    field_validator,
)

from pulltheplug.spec.base import (
    SEED_FAULTS,
    Duration,
    EngineRelease,
    EntryKind,
    FaultKind,
    Strict,
    read_text,
    validated,
)
from pulltheplug.spec.experiment import ExperimentSpec, SwarmSettingsSpec, known_targets


class CampaignLabSpec(Strict):
    nodes: int = Field(5, ge=1, le=50)
    managers: int = Field(3, ge=1)


class CampaignSpec(Strict):
    """A matrix of faults x targets x doors x repetitions, run back to back on one lab."""

    name: str = Field("campaign", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    base: ExperimentSpec = Field(default_factory=ExperimentSpec, description="What every run shares.")
    faults: list[FaultKind] = Field(default_factory=lambda: list(SEED_FAULTS), min_length=1)
    targets: list[str] = Field(default_factory=lambda: ["leader", "follower", "random-worker"], min_length=1)
    settings: list[SwarmSettingsSpec] = Field(default_factory=lambda: [SwarmSettingsSpec()], min_length=1,
                                              description="Swarm settings to sweep: every fault and target under "
                                              "each (e.g. dispatcher_heartbeat 1s, 5s, 15s).")
    doors: list[EntryKind] = Field(default_factory=lambda: list[EntryKind](["nodes"]), min_length=1,
                                   description="Front doors to compare: every fault and target through each.")
    engines: list[EngineRelease] = Field(default_factory=list, description="Engines to compare: every fault and "
                                         "target on each, the lab rebuilt with that engine on every node first "
                                         "(bookworm: Docker 20.10, trixie: Docker 26.1). Empty: the lab's own.")
    repetitions: int = Field(5, ge=1, le=100)
    lab: CampaignLabSpec = Field(default_factory=CampaignLabSpec)
    rebuild_lab: bool = Field(True, description="Rebuild the lab when a run leaves it unconverged.")
    healthy_timeout: Duration = Field(180.0, description="Wait this long for the lab to heal between runs.")

    _targets_are_known = field_validator("targets")(known_targets)


def load_campaign(path: Path) -> CampaignSpec:
    text = read_text(path, f"cannot read campaign {path}")
    spec: CampaignSpec = validated(CampaignSpec, text, str(path))
    return spec
