"""`pulltheplug doctor`."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from pulltheplug import doctor
from pulltheplug.cli.app import app

console = Console()


@app.command("doctor")
def doctor_command() -> None:
    """Check this machine: root, namespaces, overlayfs, cgroups, VXLAN, IP_VS, netem, docker, busybox."""
    results = doctor.checks()
    table = Table(title="pulltheplug doctor")
    for col in ("check", "", "found", "advice"):
        table.add_column(col)
    for c in results:
        mark = "[green]ok[/]" if c.ok else ("[red]missing[/]" if c.required else "[yellow]optional[/]")
        table.add_row(c.name, mark, c.detail, "" if c.ok else c.advice)
    console.print(table)
    if doctor.lab_can_run(results):
        console.print("[green]a lab can run here[/]")
        raise typer.Exit(0)
    console.print("[red]a lab cannot run here: fix the missing pieces above[/]")
    raise typer.Exit(2)
