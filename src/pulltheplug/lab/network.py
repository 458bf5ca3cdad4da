"""The lab network: a hub namespace holding the bridge, one namespace per node, veth links.

The bridge lives in a namespace of its own, so the host's firewall never sees lab frames and
nothing is forwarded out of the lab: no node has a default route, the host does not route for it.
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

from pulltheplug.lab.commands import run
from pulltheplug.lab.plan import LabPlan, NodePlan

NETNS_DIR = Path("/var/run/netns")


def netns_exists(name: str) -> bool:
    return (NETNS_DIR / name).exists()


def host_networks() -> list[ipaddress.IPv4Network]:
    """Every IPv4 network the host routes or holds: a lab subnet must overlap none of them."""
    nets: list[ipaddress.IPv4Network] = []
    for args in (("ip", "-j", "-4", "route", "show", "table", "all"), ("ip", "-j", "-4", "addr", "show")):
        data = json.loads(run(*args).stdout or "[]")
        for entry in data:
            if "dst" in entry and entry["dst"] not in ("default", ""):
                try:
                    nets.append(ipaddress.ip_network(entry["dst"], strict=False))  # type: ignore[arg-type]
                except ValueError:
                    continue
            for info in entry.get("addr_info", []):
                nets.append(ipaddress.ip_network(f"{info['local']}/{info['prefixlen']}", strict=False))  # type: ignore[arg-type]
    return nets


def create_hub(plan: LabPlan) -> None:
    """Hub namespace + bridge, and the host's link into it (the only way in, no route beyond)."""
    run("ip", "netns", "add", plan.hub_netns)
    hub = ("ip", "-n", plan.hub_netns)
    run(*hub, "link", "set", "lo", "up")
    run(*hub, "link", "add", plan.bridge, "type", "bridge")
    run(*hub, "link", "set", plan.bridge, "up")
    run("ip", "link", "add", plan.host_link, "type", "veth", "peer", "name", plan.hub_peer,
        "netns", plan.hub_netns)
    run(*hub, "link", "set", plan.hub_peer, "master", plan.bridge, "up")
    run("ip", "addr", "add", f"{plan.host_address}/{plan.prefixlen}", "dev", plan.host_link)
    run("ip", "link", "set", plan.host_link, "up")


def create_node_net(plan: LabPlan, node: NodePlan) -> None:
    run("ip", "netns", "add", node.netns)
    run("ip", "-n", plan.hub_netns, "link", "add", node.hub_link, "type", "veth", "peer", "name", "eth0",
        "netns", node.netns)
    run("ip", "-n", plan.hub_netns, "link", "set", node.hub_link, "master", plan.bridge, "up")
    inside = ("ip", "-n", node.netns)
    run(*inside, "link", "set", "lo", "up")
    run(*inside, "addr", "add", f"{node.address}/{plan.prefixlen}", "dev", "eth0")
    run(*inside, "link", "set", "eth0", "up")


def set_eth0(node: NodePlan, up: bool) -> None:
    run("ip", "-n", node.netns, "link", "set", "eth0", "up" if up else "down")


def eth0_is_up(node: NodePlan) -> bool:
    proc = run("ip", "-n", node.netns, "-j", "link", "show", "eth0", check=False)
    if proc.returncode != 0:
        return False
    data = json.loads(proc.stdout or "[]")
    return bool(data) and "UP" in data[0].get("flags", [])


def has_default_route(netns: str) -> bool:
    proc = run("ip", "-n", netns, "-j", "route", "show", "default", check=False)
    return proc.returncode == 0 and bool(json.loads(proc.stdout or "[]"))


def remove_network(plan: LabPlan) -> None:
    """Remove every namespace and link the plan names; absent pieces are fine (idempotent)."""
    for node in plan.nodes:
        if netns_exists(node.netns):
            run("ip", "netns", "del", node.netns, check=False)
    if netns_exists(plan.hub_netns):
        run("ip", "netns", "del", plan.hub_netns, check=False)  # takes the bridge and hub veth ends
    if Path(f"/sys/class/net/{plan.host_link}").exists():
        run("ip", "link", "del", plan.host_link, check=False)


def apply_nft(node: NodePlan, ruleset: str) -> None:
    """Load an nftables ruleset in the node's namespace, in one transaction (a file: `nft -f`)."""
    path = Path(node.dir) / "pulltheplug.nft"
    path.write_text(ruleset)
    run("nsenter", f"--net={NETNS_DIR / node.netns}", "nft", "-f", str(path))


def nft_table(node: NodePlan, table: str) -> str | None:
    """The table's listing in the node's namespace (its rules and counters), None when it is absent."""
    proc = run("nsenter", f"--net={NETNS_DIR / node.netns}", "nft", "list", "table", "inet", table, check=False)
    return proc.stdout if proc.returncode == 0 else None


def delete_nft(node: NodePlan, table: str) -> bool:
    """Delete our table from the node's namespace; whether it was there."""
    if nft_table(node, table) is None:
        return False
    run("nsenter", f"--net={NETNS_DIR / node.netns}", "nft", "delete", "table", "inet", table)
    return True
