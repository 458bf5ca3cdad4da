"""A campaign's index: one line per run in index.jsonl (what each planned run became), beside campaign.yaml.

Read by the campaign report and `report`, written by the campaign runner."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

INDEX = "index.jsonl"
CAMPAIGN = "campaign.yaml"


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
    door: str = "nodes"  # older index lines have none: they went straight to the nodes
    settings: str = ""  # the swarm settings' label in a sweep
    engine: str = ""  # the engine every node ran, where the campaign compares engines


def read_index(folder: Path) -> list[CampaignEntry]:
    path = folder / INDEX
    if not path.exists():
        return []
    return [CampaignEntry(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]
