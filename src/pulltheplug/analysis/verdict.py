"""The verdict: each SLO of the spec checked against a run's summary, pass or fail, like a checker.

Limits are in the spec's units: availability a ratio, the others seconds. An SLO that cannot be
measured (no requests, never recovered) fails: a run cannot show it was met. A run that did not complete
never passes: its figures cover only part of the experiment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from pulltheplug.analysis.summary import Summary
from pulltheplug.analysis.windowed import worst_of, worst_window_slos


@dataclass(frozen=True, slots=True)
class SloResult:
    name: str
    limit: float
    measured: float | None
    passed: bool
    message: str  # one line, e.g. "availability 0.9731 < 0.99"


def _seconds(x: float) -> str:
    return f"{x:.3f}s"


def _at_least(name: str, limit: float, measured: float | None, missing: str) -> SloResult:
    if measured is None:
        return SloResult(name, limit, None, False, f"{name}: {missing} (limit {limit:g})")
    passed = measured >= limit
    return SloResult(name, limit, measured, passed, f"{name} {measured:.4f} {'>=' if passed else '<'} {limit:g}")


def _at_most(name: str, limit: float, measured: float | None, missing: str, label: str = "") -> SloResult:
    """`label` names the figure in the message when the SLO's name alone does not say it."""
    label = label or name
    if measured is None:
        return SloResult(name, limit, None, False, f"{label}: {missing} (limit {limit:g}s)")
    passed = measured <= limit
    sign = "<=" if passed else ">"
    return SloResult(name, limit, measured, passed, f"{label} {_seconds(measured)} {sign} {limit:g}s")


def _availability(s: Summary, limit: float, of: str = "fault_and_recovery") -> SloResult:
    """Over the phases `of` names (SloSpec.availability_of); the message says which. The default, the fault
    and recovery phases, is the run for a run without a fault: there is nothing else to judge."""
    a = s.availability
    if of == "fault_and_recovery" and s.fault.start is None:
        of = "run"
    measured = {"run": a.overall, "fault_and_recovery": a.faulted}.get(of, a.by_phase.get(of))
    words = "fault+recovery" if of == "fault_and_recovery" else of
    result = _at_least(f"availability ({words})", limit, measured, f"no request was due in the {words} phase"
                       if of != "run" else "no request was due")
    return SloResult("availability", result.limit, result.measured, result.passed, result.message)


def _max_outage(s: Summary, limit: float) -> SloResult:
    return _at_most("max_outage", limit, s.longest_outage, "not measured")


def _worst_window(s: Summary, window: float, limit: float) -> SloResult:
    """Named by its window (`worst_window[1s]`), so several such SLOs are several test cases."""
    name = f"worst_window[{window:g}s]"
    figure = worst_of(s.windowed_availability, window)
    if figure is None:
        missing = "not in this summary (made before it? `pulltheplug report RUN` remakes it)"
    else:
        missing = (f"no {window:g}s window held {figure.min_requests} requests "
                   f"(a run shorter than the window, or too few requests)")
    measured = None if figure is None else figure.worst
    result = _at_least(name, limit, measured, missing)
    if figure is None or figure.worst is None or figure.start is None or figure.end is None:
        return result
    where = f" (worst {figure.start:.2f}-{figure.end:.2f}s: {figure.failed} of {figure.requests} failed)"
    return SloResult(result.name, result.limit, result.measured, result.passed, result.message + where)


def _recover_within(s: Summary, limit: float) -> SloResult:
    if s.fault.start is None:
        if s.fault.kind in (None, "none"):
            return SloResult("recover_within", limit, None, True, "recover_within: no fault planned, nothing to do")
        return SloResult("recover_within", limit, None, False,
                         f"recover_within: the {s.fault.kind} fault never started, nothing measured (limit {limit:g}s)")
    return _at_most("recover_within", limit, s.recover.requests_healthy_after_fault_start,
                    "requests never healthy again")


def _p99_latency(s: Summary, limit: float, of: str = "all") -> SloResult:
    """Of every request that ended (`of` "all", the default) or of ok requests only (`of` "ok")."""
    ok_only = of == "ok"
    overall = (s.latency_ok if ok_only else s.latency_all).get("overall")
    measured = overall.p99_ms / 1000.0 if overall else None
    return _at_most("p99_latency", limit, measured, "no ok request to measure" if ok_only else "no request ended",
                    f"p99_latency ({'ok' if ok_only else 'all'} requests)")


CHECKS: dict[str, Callable[[Summary, float], SloResult]] = {
    "availability": _availability,
    "max_outage": _max_outage,
    "recover_within": _recover_within,
    "p99_latency": _p99_latency,
}


RUN_COMPLETED = "run_completed"


def _no_finding(s: Summary, rule: str) -> SloResult:
    """A rule the spec says must not fire: fails when it was found (an unknown answer passes: nothing was seen)."""
    name = f"no_findings[{rule}]"
    hit = next((f for f in s.findings if f.rule == rule), None)
    if hit is None:
        return SloResult(name, 0.0, None, False, f"{name}: no such finding in this summary (made before it?)")
    if hit.found:
        return SloResult(name, 0.0, 1.0, False, f"{rule} found: {hit.text}")
    return SloResult(name, 0.0, 0.0, True, f"{rule} {hit.verdict}: {hit.text}")


def _run_completed(s: Summary) -> SloResult:
    """The failing result of a run that did not complete: interrupted (with where it stopped) or failed (why)."""
    if s.status == "failed":
        why = s.error or "no error recorded"
    else:
        why = f"stopped at {_seconds(s.phases.end)}, in the {s.phases.of(s.phases.end)} phase"
    return SloResult(RUN_COMPLETED, 0.0, None, False, f"run {s.status}: {why}")


def check_slos(summary: Summary, slo: Mapping[str, Any]) -> list[SloResult]:
    """One result per SLO set in `slo` (Meta.slo); None or absent means not set, unknown keys are ignored.

    A run that did not complete fails first (`run_completed`), SLOs or not; a complete run with a fault
    that never converged fails too: the cluster did not heal.
    """
    checks: dict[str, Callable[[Summary, float], SloResult]] = {
        **CHECKS, "p99_latency": partial(_p99_latency, of=slo.get("p99_latency_of") or "all"),
        "availability": partial(_availability, of=slo.get("availability_of") or "fault_and_recovery")}
    results = [_run_completed(summary)] if summary.status != "complete" else []
    results += [check(summary, float(slo[name])) for name, check in checks.items() if slo.get(name) is not None]
    results += [_worst_window(summary, window, at_least) for window, at_least in worst_window_slos(slo)]
    results += [_no_finding(summary, str(rule)) for rule in slo.get("no_findings") or []]
    if summary.status == "complete" and summary.fault.start is not None and summary.phases.converged is None:
        results.append(SloResult("converged", 0.0, None, False,
                                 "converged: the cluster did not converge before the observation timeout"))
    return results


def exit_code(results: Sequence[SloResult]) -> int:
    """0 when every SLO passed (or none was set), 1 when any failed."""
    return 0 if all(r.passed for r in results) else 1
