"""`pulltheplug lab up|down|status|exec|env`."""

from __future__ import annotations

import json
import shlex
import subprocess
from enum import StrEnum

import typer
from rich.console import Console
from rich.table import Table

from pulltheplug.cli.app import app
from pulltheplug.cluster.seam import NodeStatus
from pulltheplug.errors import SpecError
from pulltheplug.lab import lab as labmod
from pulltheplug.lab.state import LabState, load_state

console = Console()
lab_app = typer.Typer(help="A real multi-node Docker Swarm on this machine (one netns + dockerd per node).",
                      no_args_is_help=True)
app.add_typer(lab_app, name="lab")

NameOpt = typer.Option(labmod.DEFAULT_NAME, "--name", "-n", help="Lab name (1-8 lowercase letters/digits).")


def status_table(rows: list[NodeStatus], title: str) -> Table:
    table = Table(title=title)
    for col in ("NODE", "ROLE", "ADDRESS", "STATUS", "AVAILABILITY", "MANAGER STATUS", "DAEMON", "ENGINE"):
        table.add_column(col)
    for r in rows:
        state = f"[green]{r.state}[/]" if r.state == "ready" else f"[red]{r.state}[/]"
        table.add_row(r.name, r.role, r.address, state, r.availability, r.manager.capitalize(),
                      "[green]alive[/]" if r.daemon else "[red]dead[/]", r.engine_version)
    return table


class Kind(StrEnum):
    ns = "ns"
    vm = "vm"


def _vm_lab(name: str) -> LabState | None:
    """The lab's state when it is a VM lab (its commands go to pulltheplug.vmlab), else None."""
    state = load_state(name)
    return state if state is not None and state.kind == "vm" else None


@lab_app.command("up")
def up(
    nodes: int = typer.Option(5, "--nodes", help="How many nodes."),
    managers: int = typer.Option(3, "--managers", help="How many of them are managers (the first ones)."),
    name: str = NameOpt,
    kind: Kind = typer.Option(Kind.ns, "--kind", help="ns: a network namespace and a dockerd per node (shares "
                              "this kernel); vm: a QEMU machine per node, each with its own kernel, over SSH."),
    memory: str = typer.Option("1g", "--memory", help="--kind vm: each machine's memory (QEMU's -m)."),
    cpus: int = typer.Option(1, "--cpus", help="--kind vm: each machine's vCPUs."),
    engine: str = typer.Option("bookworm", "--engine", help="The container engine of every node, by Debian "
                               "release: bookworm (this machine's docker.io, Docker 20.10) or trixie (Docker 26.1, "
                               "fetched once with mmdebstrap); per node: node4=trixie,node5=trixie."),
) -> None:
    """Make the lab (the network, the nodes, the probe image, the swarm) and wait until every node is Ready."""
    if kind == Kind.vm:
        from pulltheplug.vmlab import lab as vmlab

        if engine != "bookworm":
            raise SpecError("--engine with --kind vm: the VM lab's image is Debian 12's (bookworm) only so far")

        with console.status("lab up") as spinner:
            state = vmlab.up(name, nodes, managers, memory, cpus, progress=lambda m: spinner.update(f"lab up: {m}"))
        console.print(status_table(vmlab.status(name), f"VM lab {name}: {state.plan.subnet}, docker "
                                   f"{state.engine_version}, {state.vm.get('accel_said', '')}"))
        console.print(f"inventory for `cluster check|show` and runs: {vmlab.inventory_path(state.plan)}")
        return
    with console.status("lab up") as spinner:
        lab = labmod.up(name, nodes, managers, progress=lambda m: spinner.update(f"lab up: {m}"), engine=engine)
    versions = sorted(set(lab.state.engine_versions.values())) or [lab.state.engine_version]
    console.print(status_table(lab.status(), f"lab {name}: {lab.plan.subnet}, docker {' and '.join(versions)}"))


@lab_app.command("down")
def down(name: str = NameOpt) -> None:
    """Remove everything the lab made (processes, mounts, namespaces, links, cgroups, state). Idempotent."""
    with console.status("lab down") as spinner:
        found = labmod.down(name, progress=lambda m: spinner.update(f"lab down: {m}"))
    console.print(f"lab {name} is down" if found else f"no lab {name} was up: nothing to do")


@lab_app.command("status")
def status(name: str = NameOpt, as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Each node's swarm status, availability, manager status, and whether its daemon is alive."""
    if (vm := _vm_lab(name)) is not None:
        from pulltheplug.vmlab import lab as vmlab

        vm_rows = vmlab.status(name)
        if as_json:
            typer.echo(json.dumps({"lab": name, "kind": "vm", "subnet": vm.plan.subnet, "status": vm.status,
                                   "accel": vm.vm.get("accel", ""), "inventory": str(vmlab.inventory_path(vm.plan)),
                                   "nodes": [r.__dict__ | {"leader": r.leader} for r in vm_rows]}, indent=2))
            return
        console.print(status_table(vm_rows, f"VM lab {name}: {vm.plan.subnet} ({vm.status})"))
        return
    lab = labmod.Lab.open(name)
    rows = lab.status()
    if as_json:
        typer.echo(json.dumps({"lab": name, "subnet": lab.plan.subnet, "status": lab.state.status,
                               "active_fault": lab.active_fault(),
                               "swarm_settings_to_put_back": lab.noted_settings(),
                               "nodes": [r.__dict__ | {"leader": r.leader} for r in rows]}, indent=2))
        return
    console.print(status_table(rows, f"lab {name}: {lab.plan.subnet} ({lab.state.status})"))
    fault = lab.active_fault()
    if fault:
        console.print(f"[bold red]fault still in place:[/] {fault.get('kind')} on {fault.get('node')} since "
                      f"{fault.get('since')} (run {fault.get('run')}): `pulltheplug lab heal --name {name}` undoes it",
                      soft_wrap=True)
    if (settings := lab.noted_settings()) is not None:
        console.print(f"[bold red]swarm settings a run changed are still in place:[/] `pulltheplug lab heal --name "
                      f"{name}` puts back {settings}", soft_wrap=True)


@lab_app.command("heal")
def heal(name: str = NameOpt) -> None:
    """Undo what a run killed mid-fault left behind: every eth0 up, every node thawed and booted."""
    if _vm_lab(name) is not None:
        from pulltheplug.vmlab import lab as vmlab

        with console.status("healing") as spinner:
            healed = vmlab.heal(name, progress=lambda m: spinner.update(f"healing: {m}"))
        console.print("\n".join(healed) if healed else "nothing to heal: every machine runs")
        console.print(status_table(vmlab.status(name), f"VM lab {name}"))
        return
    lab = labmod.Lab.open(name)
    with console.status("healing"):
        done = lab.heal()
    console.print("\n".join(done) if done else "nothing to heal: every node is up")
    console.print(status_table(lab.status(), f"lab {name}"))


@lab_app.command("exec", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def exec_(node: str = typer.Argument(..., metavar="NODE", help="Node name, e.g. node1."),
          cmd: list[str] = typer.Argument(..., metavar="-- CMD...", help="The command, after --."),
          name: str = NameOpt) -> None:
    """Run a command inside a node, with DOCKER_HOST set to its daemon: `lab exec node1 -- docker node ls`."""
    if (vm := _vm_lab(name)) is not None:
        from pulltheplug.vmlab import lab as vmlab

        # one argument: ssh joins its arguments with spaces for the remote shell, which would split `sh -c 'a; b'`
        raise typer.Exit(subprocess.run(vmlab.ssh_argv(vm, node, [shlex.join(cmd)]), check=False).returncode)
    lab = labmod.Lab.open(name)
    argv, env = lab.exec_argv(node, cmd)
    raise typer.Exit(subprocess.run(argv, env=env, check=False).returncode)


@lab_app.command("env")
def env(node: str = typer.Argument(..., metavar="NODE", help="Node name."), name: str = NameOpt) -> None:
    """Print the DOCKER_HOST line for the docker CLI: `eval $(pulltheplug lab env node1)`."""
    if (vm := _vm_lab(name)) is not None:
        from pulltheplug.vmlab import lab as vmlab

        typer.echo(f"export DOCKER_HOST=ssh://root@{vm.plan.node(node).address}  # with the lab's key in "
                   f"~/.ssh/config: IdentityFile {vmlab.login_key_path(vm.plan)}, UserKnownHostsFile "
                   f"{vmlab.known_hosts_path(vm.plan)}")
        return
    lab = labmod.Lab.open(name)
    typer.echo(f"export DOCKER_HOST={lab.plan.node(node).docker_host}")
