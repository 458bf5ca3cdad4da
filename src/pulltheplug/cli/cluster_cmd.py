"""`pulltheplug cluster trust|check|form|leave`: your own hosts over SSH.

The SSH library is imported by the command that uses it, not when the CLI starts: every other command (and
`--help`) stays as fast as before, and quiet."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path

import typer
from rich.console import Console
from rich.status import Status
from rich.table import Table

from pulltheplug.cli.app import app
from pulltheplug.naming import node_sort_key
from pulltheplug.ssh.choices import DEFAULT_FAULTS, DEFAULT_KNOWN_HOSTS, PLANNABLE_FAULTS
from pulltheplug.ssh.inventory import load_inventory

console = Console()
cluster_app = typer.Typer(help="A real cluster of your own hosts (Raspberry Pis, servers), reached over SSH.",
                          no_args_is_help=True)
app.add_typer(cluster_app, name="cluster")

InventoryArg = typer.Argument(..., metavar="INVENTORY", help="Hosts file: ours (`hosts:`), or an Ansible inventory "
                              "(INI, YAML, a folder, a script: read through ansible-inventory where Ansible is "
                              "installed).")
KnownHostsOpt = typer.Option(DEFAULT_KNOWN_HOSTS, "--known-hosts", help="The known_hosts file SSH keys are checked "
                             "against (and `trust` writes to).")


@cluster_app.command("show")
def show_command(
    inventory: Path = InventoryArg,
    output: str = typer.Option("table", "--format", metavar="table|json", help="A table, or JSON for scripts."),
) -> None:
    """The hosts as pulltheplug reads them (address, port, user, role, interface, sudo, key, power driver),
    connecting to nothing: check what an Ansible inventory gives before a run."""
    if output not in ("table", "json"):
        from pulltheplug.errors import SpecError

        raise SpecError(f"--format {output}: use table or json")
    hosts = load_inventory(inventory)
    if output == "json":
        typer.echo(json.dumps({"source": hosts.source, "reader": hosts.reader,
                               "hosts": [h.model_dump(mode="json") for h in hosts.hosts]}, indent=2))
        return
    table = Table(title=f"{hosts.source}: {len(hosts.hosts)} hosts, read by {hosts.reader}",
                  caption="-: role from the live swarm, interface the one the swarm advertises, key from the "
                  "SSH agent and ~/.ssh")
    for col in ("HOST", "ADDRESS", "PORT", "USER", "ROLE", "INTERFACE", "SUDO", "KEY", "POWER"):
        table.add_column(col, overflow="fold")
    for h in hosts.hosts:
        table.add_row(h.name, h.address, str(h.port), h.user, h.role or "-", h.interface or "-",
                      "yes" if h.sudo else "no", str(h.key) if h.key else "-", h.power.kind if h.power else "-")
    console.print(table)


@cluster_app.command("trust")
def trust_command(inventory: Path = InventoryArg, known_hosts: Path = KnownHostsOpt,
                  timeout: float = typer.Option(10.0, "--timeout", help="Seconds to wait for each host.")) -> None:
    """Record each host's SSH key (new hosts only; a changed key is refused, never overwritten)."""
    from pulltheplug.ssh.trust import trust

    hosts = load_inventory(inventory)
    results = trust(hosts, known_hosts, timeout)
    table = Table(title=f"host keys ({known_hosts})")
    for col in ("HOST", "AS", "", "KEY", "FINGERPRINT", "DETAIL"):
        table.add_column(col)
    for r in results:
        mark = {"added": "[green]added[/]", "known": "[green]known[/]"}.get(r.status, f"[red]{r.status}[/]")
        table.add_row(r.host, r.pattern, mark, r.key_type, r.fingerprint, r.detail)
    console.print(table)
    if not all(r.ok for r in results):
        raise typer.Exit(2)


@cluster_app.command("check")
def check_command(
    inventory: Path = InventoryArg,
    faults: str = typer.Option(",".join(DEFAULT_FAULTS), "--faults",
                               help=f"Planned faults, comma-separated ({', '.join(PLANNABLE_FAULTS)})."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    known_hosts: Path = KnownHostsOpt,
    timeout: float = typer.Option(10.0, "--timeout", help="Seconds for each host to connect and answer."),
) -> None:
    """Every host over SSH: reachable, root, docker, swarm, interface, clock, and what each planned fault needs.

    Exits 0 only when every host can run every planned fault.
    """
    from pulltheplug.ssh import check as checkmod
    from pulltheplug.ssh.session import SshOptions

    planned = checkmod.parse_faults(faults)
    hosts = load_inventory(inventory)
    options = SshOptions(known_hosts=known_hosts, connect_timeout=timeout)
    with console.status("checking hosts") if not as_json else contextlib.nullcontext():
        reports = checkmod.check_cluster(hosts, planned, options, timeout)
    passes = all(r.passes for r in reports)
    if as_json:
        typer.echo(json.dumps({"faults": list(planned), "passes": passes,
                               "hosts": [r.to_json() for r in reports]}, indent=2))
    else:
        table = Table(title=f"cluster check: {', '.join(planned)}")
        for col in ("HOST", "CHECK", "", "FOUND", "ADVICE"):
            table.add_column(col)
        for report in reports:
            for i, c in enumerate(report.checks):
                mark = "[green]ok[/]" if c.ok else ("[red]fail[/]" if c.required else "[yellow]warn[/]")
                table.add_row(report.host if i == 0 else "", c.name, mark, c.detail, "" if c.ok else c.advice)
            table.add_section()
        console.print(table)
        failing = [r.host for r in reports if not r.passes]
        console.print("[green]every host can run every planned fault[/]" if passes
                      else f"[red]cannot run the planned faults on: {', '.join(failing)}[/]")
    raise typer.Exit(0 if passes else 2)


@cluster_app.command("form")
def form_command(
    inventory: Path = InventoryArg,
    managers: int | None = typer.Option(None, "--managers", min=1, help="How many managers, counting hosts "
                                        "with `role: manager`; hosts without a role fill up to it in order "
                                        "(default: 3 from three hosts on, else 1)."),
    force: bool = typer.Option(False, "--force", help="Make a host that is in another swarm leave it first."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    known_hosts: Path = KnownHostsOpt,
    timeout: float = typer.Option(120.0, "--timeout", help="Seconds to wait for every node to be Ready."),
) -> None:
    """Form the swarm: init on the first manager, join the others with their tokens, wait until all are Ready.

    Each host advertises its fault interface's address (`interface:`, else the one SSH reaches it on).
    Hosts already in this swarm are kept; a host in another swarm is refused unless --force.
    """
    from pulltheplug.ssh.form import form
    from pulltheplug.ssh.session import SshOptions

    hosts = load_inventory(inventory)
    options = SshOptions(known_hosts=known_hosts)
    with console.status("forming the swarm") if not as_json else contextlib.nullcontext() as status:
        formed = form(hosts, options, managers, force, _progress(status), timeout)
    rows = sorted(formed.rows, key=lambda r: node_sort_key(r["name"]))
    if as_json:
        typer.echo(json.dumps({"founder": formed.founder, "steps": formed.steps, "nodes": rows}, indent=2))
        return
    table = Table(title=f"swarm formed on {formed.founder}")
    for col in ("NODE", "DONE", "ROLE", "STATUS", "AVAILABILITY", "MANAGER", "ADDRESS"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["name"], formed.steps.get(r["name"], ""), r["role"], r["state"], r["availability"],
                      r["manager"], r["addr"])
    console.print(table)


@cluster_app.command("leave")
def leave_command(
    inventory: Path = InventoryArg,
    host: list[str] = typer.Option([], "--host", help="Only this host leaves (repeat); default: every host, "
                                   "and the swarm is gone."),
    known_hosts: Path = KnownHostsOpt,
) -> None:
    """Hosts leave the swarm: workers first, then managers (each demoted first), the leader last."""
    from pulltheplug.ssh.form import leave
    from pulltheplug.ssh.session import SshOptions

    hosts = load_inventory(inventory)
    with console.status("leaving the swarm") as status:
        done = leave(hosts, SshOptions(known_hosts=known_hosts), host, _progress(status))
    table = Table(title="cluster leave")
    table.add_column("HOST")
    table.add_column("DONE")
    for name in sorted(done, key=node_sort_key):
        table.add_row(name, done[name])
    console.print(table)


def _progress(status: object) -> Callable[[str], None]:
    def show(message: str) -> None:
        if isinstance(status, Status):
            status.update(message)
    return show
