"""The terminal summary of a run: availability, outages, detect/recover times, latency, verdict."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from pulltheplug.analysis import Detection, Summary
from pulltheplug.analysis.door import routed_around_words
from pulltheplug.analysis.outages import ALL, OutageWindow
from pulltheplug.analysis.results import results_of_folder
from pulltheplug.analysis.timings import healthy_words
from pulltheplug.analysis.verdict import SloResult
from pulltheplug.analysis.windowed import WindowedAvailability, window_label


def _s(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}s"


def _paren(words: str) -> str:
    return f" ({words})" if words else ""


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}%"


def _lost(det: Detection) -> str:
    """The node lost during the fault, or that it was not (and what came after the revert)."""
    if det.node_lost_after_fault_start is not None or det.node_lost_after_revert is None:
        return _s(det.node_lost_after_fault_start)
    return f"not seen lost during the fault (lost {_s(det.node_lost_after_revert)} after the revert)"


def summary_tables(s: Summary, slos: list[SloResult]) -> list[Table]:
    """The run's figures; a load test (no cluster: `pulltheplug load`) only those a load test has."""
    cluster = s.cluster != "none"
    head = Table(title=f"{'run' if cluster else 'load'} {s.name}: {s.status}", show_header=False)
    if cluster:
        head.add_row("fault", _fault_words(s))
    head.add_row("requests", f"{s.outcomes.requests} due over {s.duration:.1f}s "
                 f"(rate {s.rate or 0:g}/s): ok {s.outcomes.ok}, fail {s.outcomes.fail}, info {s.outcomes.info}, "
                 f"not sent {s.outcomes.not_sent}")
    if cluster:
        faulted = f"; fault+recovery {_pct(s.availability.faulted)}" if s.availability.faulted is not None else ""
        head.add_row("availability", f"{_pct(s.availability.overall)} overall{faulted}; " + ", ".join(
            f"{p} {_pct(v)}" for p, v in s.availability.by_phase.items()))
    else:
        head.add_row("availability", f"{_pct(s.availability.overall)} ok of sent")
    if s.windowed_availability:
        head.add_row("worst window", "; ".join(_worst_words(f) for f in s.windowed_availability))
    if s.error_seconds is not None:
        head.add_row("errors felt", _felt_words(s))
    head.add_row("longest outage", f"{_s(s.longest_outage)} (consecutive failures on one entry point)")
    if cluster:
        _cluster_rows(head, s)
    for warning in s.warnings:
        head.add_row("[bold yellow]warning[/]", f"[yellow]{warning}[/]")
    if s.errors:
        head.add_row("errors", ", ".join(f"{k} {v}" for k, v in sorted(s.errors.items(), key=lambda kv: -kv[1])))
    tables = [head]
    if cluster:
        tables += _findings_tables(head, s)
    tables.append(_entries_table(s, cluster))
    if len(s.faults) > 1:
        tables.append(_faults_table(s))
    if s.windowed_availability:
        tables.append(windowed_table(s))
    tables += outage_tables(s.outages)
    tables.append(_latency_table(s, by_phase=cluster))
    if slos:
        verdict = Table(title="verdict")
        verdict.add_column("SLO")
        verdict.add_column("result")
        verdict.add_column("")
        for r in slos:
            verdict.add_row(r.name, "[green]pass[/]" if r.passed else "[red]FAIL[/]", r.message)
        tables.append(verdict)
    return tables


def _fault_words(s: Summary) -> str:
    if s.fault.kind == "schedule":
        fault = f"schedule of {len(s.faults)} faults (see below)"
    else:
        fault = f"{s.fault.kind} on {s.fault.node} (target {s.fault.target})" if s.fault.node else "none"
    never = (s.fault.node and not s.fault.reverted) or any(f.open for f in s.faults)
    return fault + (" [red]never reverted[/]" if never else "")


def _cluster_rows(head: Table, s: Summary) -> None:
    """What the cluster did: detection, recovery, the door, the control plane."""
    det, rec = s.detect, s.recover
    head.add_row("after fault start", f"node lost {_lost(det)}, leader change "
                 f"{_s(det.leader_change_after_fault_start)}, replicas running "
                 f"{'never lost' if rec.replicas_never_lost else _s(rec.replicas_running_after_fault_start)}, "
                 f"requests healthy {_s(rec.requests_healthy_after_fault_start)}{_paren(healthy_words(rec))}")
    head.add_row("after revert", f"node Ready {_s(rec.node_ready_after_revert)}")
    if s.door is not None:
        d = s.door
        head.add_row(f"door {d.kind}", f"{d.address}: {routed_around_words(d.kind, d.node)} "
                     f"{_s(d.routed_around_after_fault_start)} after fault start (settings allow "
                     f"{_s(d.down_bound)}), back in the door {_s(d.back_after_revert)} after revert; "
                     f"{d.errors_after_fault_start} failed requests from the fault start, the last "
                     f"{_s(d.last_error_after_fault_start)} after it; a new task served "
                     f"{_s(d.new_task_served_after_fault_start)} after it")
    cp = s.control_plane
    head.add_row("control plane", "always answered" if not cp else
                 f"{len(cp)} window(s) without answer, {sum(w.duration for w in cp):.2f}s in all")


def _findings_tables(head: Table, s: Summary) -> list[Table]:
    """The findings that were found as a table; when none was, one row in `head` says so."""
    found = [f for f in s.findings if f.verdict == "found"]
    unknown = sum(f.verdict == "unknown" for f in s.findings)
    if not found:
        if s.findings:
            head.add_row("findings", f"none of {len(s.findings)} rules found anything ({unknown} could not tell)")
        return []
    what = Table(title=f"findings ({len(found)} of {len(s.findings)} rules; {unknown} could not tell)")
    for col in ("rule", "severity", "when (s)", "nodes", ""):
        what.add_column(col)
    colour = {"high": "red", "warning": "yellow", "info": "cyan"}
    for finding in found:
        start, end = finding.start, finding.end
        when = "" if start is None else f"{start:.1f}" + ("" if end in (None, start) else f"-{end:.1f}")
        what.add_row(finding.rule, f"[{colour[finding.severity]}]{finding.severity}[/]", when,
                     ", ".join(finding.nodes), finding.text)
    return [what]


def _entries_table(s: Summary, by_phase: bool) -> Table:
    """Availability per entry point (a load test's URLs), by phase for a run with a fault."""
    entries = Table(title="availability per entry point" if by_phase else "availability per URL")
    phases = list(s.availability.by_phase) if by_phase else []
    for col in ("entry", "overall", *phases):
        entries.add_column(col, justify="right")
    for entry, overall in s.availability.by_entry.items():
        per = s.availability.by_entry_phase.get(entry, {})
        entries.add_row(entry, _pct(overall), *[_pct(per.get(p)) for p in phases])
    return entries


def _faults_table(s: Summary) -> Table:
    sched = Table(title=f"faults ({len(s.faults)}) and the outages that overlap each")
    for col in ("#", "fault", "nodes", "start", "end", "outages", "degraded", "node lost after start",
                "node Ready after revert", "findings"):
        sched.add_column(col, justify="right")
    for f in s.faults:
        span = f.degraded_span
        degraded = "-" if span is None else f"{span.duration:.2f}s: {span.failed} of {span.requests} failed"
        sched.add_row(str(f.id + 1), f.kind, ", ".join(f.nodes), f"{f.start:.3f}",
                      f"{f.end:.3f}" + (" (open)" if f.open else ""), f"{len(f.outages)} ({f.outage_seconds:.2f}s)",
                      degraded,
                      "-" if f.detect is None else _lost(f.detect),
                      "-" if f.recover is None else _s(f.recover.node_ready_after_revert),
                      ", ".join(x.rule for x in f.findings if x.found) or "-")
    return sched


def _latency_table(s: Summary, by_phase: bool) -> Table:
    """Latency overall, and by phase for a run with a fault (a load test has one phase: overall says it)."""
    lat = Table(title="latency from due time (ms)", caption="all: every request that ended, a timeout at its "
                "timeout; ok: ok answers only; client lag: send time - due time")
    for col in ("requests", "phase", "count", "timeouts", "p50", "p90", "p99", "max"):
        lat.add_column(col, justify="left" if col in ("requests", "phase") else "right")
    rows = [*(("all", phase, p) for phase, p in s.latency_all.items()),
            *(("ok", phase, p) for phase, p in s.latency_ok.items()), ("client lag", "overall", s.client_lag)]
    for group, phase, p in rows:
        if p is not None and (by_phase or phase == "overall"):
            timeouts = "-" if p is s.client_lag else str(p.timeouts)
            lat.add_row(group, phase, str(p.count), timeouts, f"{p.p50_ms:.1f}", f"{p.p90_ms:.1f}",
                        f"{p.p99_ms:.1f}", f"{p.max_ms:.1f}")
    return lat


def _worst_words(f: WindowedAvailability) -> str:
    label = window_label(f.window_s)
    if f.worst is None or f.start is None or f.end is None:
        return f"{label} - (no window held {f.min_requests} requests)"
    return f"{label} {_pct(f.worst)} ({f.start:.2f}-{f.end:.2f}s, {f.failed} of {f.requests} failed)"


def _felt_words(s: Summary) -> str:
    span = s.degraded_span
    seconds = f"{s.error_seconds} error second(s) (1 s bins with a failure)"
    if span is None:
        return seconds + "; no failure from the fault start on" if s.fault.start is not None else seconds
    return (f"{seconds}; degraded {span.duration:.2f}s from {span.start:.2f}s ({span.after_fault_start:.2f}s after "
            f"fault start{', still at the end' if span.open else ''}): {span.failed} of {span.requests} failed")


def windowed_table(s: Summary) -> Table:
    """Window size x (all entries, each entry): the worst availability; then error seconds."""
    table = Table(title="worst availability over every window of each size", caption=(
        f"ok / sent by due time; windows slide by min(100 ms, size/100); a window with fewer than "
        f"{s.windowed_availability[0].min_requests} requests is left out (-)"))
    entries = list(s.windowed_availability_by_entry)
    for col in ("window", "all entries", *entries):
        table.add_column(col, justify="right")
    for i, f in enumerate(s.windowed_availability):
        per = [s.windowed_availability_by_entry[e] for e in entries]
        table.add_row(window_label(f.window_s), _pct(f.worst), *[_pct(p[i].worst) if i < len(p) else "-" for p in per])
    table.add_row("error seconds", str(s.error_seconds if s.error_seconds is not None else "-"),
                  *[str(s.error_seconds_by_entry.get(e, "-")) for e in entries])
    return table


MAX_OUTAGE_ROWS = 20


def _outage_table(title: str, windows: list[OutageWindow], caption: str) -> Table:
    table = Table(title=title, caption=caption)
    for col in ("entry", "start", "end", "duration", "failed", "errors"):
        table.add_column(col, justify="right")
    for w in windows[:MAX_OUTAGE_ROWS]:
        table.add_row(w.entry, f"{w.start:.3f}", f"{w.end:.3f}" + (" (open)" if w.open else ""), f"{w.duration:.3f}s",
                      str(w.failed), ", ".join(f"{k} {v}" for k, v in w.errors.items()))
    return table


def outage_tables(outages: list[OutageWindow]) -> list[Table]:
    """Per entry point by start time; the windows where every entry failed together apart, since their failures
    are the per-entry windows' failures again: one list would count each twice."""
    per_entry = sorted((w for w in outages if w.entry != ALL), key=lambda w: (w.start, w.entry))
    together = sorted((w for w in outages if w.entry == ALL), key=lambda w: w.start)
    tables = []
    if per_entry:
        longest = max(per_entry, key=lambda w: w.duration)
        more = len(per_entry) - MAX_OUTAGE_ROWS
        tables.append(_outage_table(
            f"outage windows per entry point ({len(per_entry)}): consecutive failures on one entry", per_entry,
            (f"the first {MAX_OUTAGE_ROWS} by start; {more} more in summary.json; " if more > 0 else "")
            + f"longest {longest.duration:.3f}s on {longest.entry} from {longest.start:.3f}s"))
    if together and len({w.entry for w in per_entry}) > 1:  # one entry: its windows are these same ones
        tables.append(_outage_table(f"every entry down at once ({len(together)})", together,
                                    "the same failures as the windows above, where all entries failed together"))
    return tables


def render_summary(console: Console, folder: Path) -> tuple[Summary, list[SloResult]]:
    """Print the summary the run wrote (summary.json; made from the records if there is none) and the verdict."""
    summary, slos = results_of_folder(folder)
    for t in summary_tables(summary, slos):
        console.print(t)
    console.print(f"records: {folder}")
    return summary, slos
