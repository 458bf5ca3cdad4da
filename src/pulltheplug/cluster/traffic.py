"""Traffic faults as data: who drops what (partitions, random loss), and the nftables ruleset that does it.

Pure: the partition shapes resolve to groups of nodes, each node gets the addresses it must not exchange
packets with, and `ruleset` renders that as one nftables table of pulltheplug's own (`inet pulltheplug`),
so a revert deletes the table and nothing else of the node's firewall (Docker's rules included) is touched.
Clients (the controller, a front door) are never in a group: an isolated node still answers them.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from pulltheplug.cluster.seam import ClusterNode
from pulltheplug.errors import SpecError

TABLE = "pulltheplug"  # family inet: IPv4 and IPv6 alike
SHAPES = ("isolate", "managers-split", "one-way", "groups")


@dataclass(frozen=True)
class TrafficRules:
    """What one node drops: packets from and to these addresses, and a share of all its interface's packets."""

    drop_from: tuple[str, ...] = ()
    drop_to: tuple[str, ...] = ()
    loss_percent: float = 0.0
    iface: str = "eth0"

    @property
    def empty(self) -> bool:
        return not self.drop_from and not self.drop_to and self.loss_percent <= 0


@dataclass(frozen=True)
class PartitionPlan:
    groups: list[list[str]]
    one_way: bool = False  # only the first group's nodes drop what comes from the others
    rules: dict[str, TrafficRules] = field(default_factory=dict)


def partition_groups(shape: str, target: str, nodes: Sequence[ClusterNode], explicit: Sequence[Sequence[str]] = (),
                     seed: int | None = None) -> list[list[str]]:
    """The sides of a partition; the first holds the target. SpecError when the cluster cannot form it."""
    names = [n.name for n in nodes]
    if shape == "groups":
        return _explicit(explicit, names)
    if target not in names:
        raise SpecError(f"partition: {target!r} is not a node of the cluster ({', '.join(names)})")
    if shape in ("isolate", "one-way"):
        if len(names) < 2:
            raise SpecError(f"partition {shape}: the cluster has one node: nothing to cut it from")
        return [[target], [n for n in names if n != target]]
    if shape == "managers-split":
        managers = [n.name for n in nodes if n.role == "manager"]
        if len(managers) < 2:
            raise SpecError(f"partition managers-split: the cluster has {len(managers)} manager(s): it needs two "
                            "or more (or use isolate)")
        if target not in managers:
            raise SpecError(f"partition managers-split: the target {target} is not a manager: target a manager "
                            "(leader, follower, random-manager) or name one")
        others = [m for m in managers if m != target]
        size = max(1, (len(managers) - 1) // 2)  # fewer than half: 1 of 2 or 3, 2 of 5, 3 of 7
        minority = [target, *random.Random(seed).sample(others, size - 1)]
        return [sorted(minority), [m for m in managers if m not in minority]]
    raise SpecError(f"partition shape {shape!r}: use one of {', '.join(SHAPES)}")


def _explicit(groups: Sequence[Sequence[str]], names: list[str]) -> list[list[str]]:
    listed = [g for group in groups for g in group]
    unknown = sorted(set(listed) - set(names))
    if unknown:
        raise SpecError(f"partition groups: {', '.join(unknown)} not in the cluster ({', '.join(names)})")
    twice = sorted({g for g in listed if listed.count(g) > 1})
    if twice:
        raise SpecError(f"partition groups: {', '.join(twice)} in more than one group")
    if sum(1 for g in groups if g) < 2:
        raise SpecError("partition groups: give two or more non-empty groups")
    return [list(g) for g in groups if g]


def partition_plan(groups: list[list[str]], nodes: Sequence[ClusterNode], one_way: bool = False) -> PartitionPlan:
    """Each node drops packets from (and to) the nodes of the other groups; both sides do, so the cut holds
    even where one side's rules are missing. One way: only the first group drops, and only what comes in."""
    address = {n.name: n.address for n in nodes}
    for name, a in address.items():
        try:
            ipaddress.ip_address(a)
        except ValueError:
            raise SpecError(f"partition: {name}'s address {a!r} is not an IP address: give the host's address "
                            "in the inventory (a firewall rule needs it)") from None
    rules: dict[str, TrafficRules] = {}
    for i, group in enumerate(groups):
        if one_way and i > 0:
            break
        others = tuple(address[n] for j, g in enumerate(groups) if j != i for n in g)
        for name in group:
            rules[name] = TrafficRules(drop_from=others, drop_to=() if one_way else others)
    return PartitionPlan(groups=groups, one_way=one_way, rules=rules)


def ruleset(rules: TrafficRules) -> str:
    """`nft -f -` input: our table made anew (created, flushed, filled) in one transaction."""
    lines = [f"table inet {TABLE} {{}}", f"delete table inet {TABLE}", f"table inet {TABLE} {{"]
    inbound, outbound = [], []
    if rules.loss_percent > 0:
        cut = max(1, min(100, round(rules.loss_percent)))
        inbound.append(f'iifname "{rules.iface}" numgen random mod 100 < {cut} counter drop')
        outbound.append(f'oifname "{rules.iface}" numgen random mod 100 < {cut} counter drop')
    for a in rules.drop_from:
        inbound.append(f"{_family(a)} saddr {a} counter drop")
    for a in rules.drop_to:
        outbound.append(f"{_family(a)} daddr {a} counter drop")
    # in: prerouting at raw priority, before conntrack and Docker's NAT (local and forwarded packets alike);
    # out: postrouting, which every packet leaving the node passes (its own, and its containers')
    lines.append("  chain ingress { type filter hook prerouting priority raw; policy accept;")
    lines += [f"    {r}" for r in inbound]
    lines.append("  }")
    lines.append("  chain egress { type filter hook postrouting priority srcnat; policy accept;")
    lines += [f"    {r}" for r in outbound]
    lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _family(address: str) -> str:
    return "ip6" if ipaddress.ip_address(address).version == 6 else "ip"


def check_loss(percent: float) -> float:
    if not 0 < percent <= 100:
        raise SpecError(f"loss {percent}%: give a percentage above 0 and at most 100")
    return percent
