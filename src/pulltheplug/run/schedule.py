"""Schedules of faults: given in the spec, or drawn at random (a soak), and checked before anything starts.

Pure. A random schedule is Poisson arrivals over `length` (exponential gaps of mean `mean_interval`), each
with a kind and a target drawn from the lists, all from one seed, so a run can be repeated. Two faults may
overlap in time only on different nodes: two faults on one node could not be reverted in order (a nic-up
on a node that is powered off, a filter table shared by two partitions).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from pulltheplug.errors import SpecError
from pulltheplug.spec import RandomScheduleSpec, ScheduledFault


@dataclass(frozen=True)
class Slot:
    """One planned fault: when, how long, on which nodes (the target first)."""

    id: int
    kind: str
    at: float
    duration: float
    nodes: tuple[str, ...]

    @property
    def end(self) -> float:
        return self.at + self.duration


def draw(spec: RandomScheduleSpec, seed: int) -> list[ScheduledFault]:
    """The random schedule for `seed`: arrivals until `length`, each fault over by then."""
    rng = random.Random(seed)
    out: list[ScheduledFault] = []
    t = rng.expovariate(1.0 / spec.mean_interval)
    while t + spec.duration <= spec.length:
        out.append(ScheduledFault(kind=rng.choice(spec.kinds), target=rng.choice(spec.targets),
                                  duration=spec.duration, at=round(t, 3), seed=rng.randrange(2**31)))
        t += rng.expovariate(1.0 / spec.mean_interval)
    return out


def clashes(slots: Sequence[Slot]) -> list[tuple[Slot, Slot, str]]:
    """Pairs of faults that overlap in time on a shared node, with that node."""
    found = []
    ordered = sorted(slots, key=lambda s: s.at)
    for i, a in enumerate(ordered):
        for b in ordered[i + 1:]:
            if b.at >= a.end:
                continue
            shared = [n for n in a.nodes if n in b.nodes]
            if shared:
                found.append((a, b, shared[0]))
    return found


def check(slots: Sequence[Slot]) -> None:
    """SpecError naming the first clash."""
    for a, b, node in clashes(slots):
        raise SpecError(f"schedule: fault {a.id + 1} ({a.kind}, {a.at:g}s-{a.end:g}s) and fault {b.id + 1} "
                        f"({b.kind}, from {b.at:g}s) overlap on {node}: one node takes one fault at a time")


def drop_clashing(slots: Sequence[Slot]) -> list[Slot]:
    """A random schedule keeps the earlier of two clashing faults (a soak never refuses its own draw)."""
    kept: list[Slot] = []
    for s in sorted(slots, key=lambda s: s.at):
        if not clashes([*kept, s]):
            kept.append(s)
    return kept
