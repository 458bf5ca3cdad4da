"""The SLO verdict: each set SLO passes or fails with a one-line reason; the exit code follows."""

from __future__ import annotations

import dataclasses

import pytest
from pydantic import ValidationError

from pulltheplug.analysis import Summary, summarize
from pulltheplug.analysis.findings import Finding
from pulltheplug.analysis.verdict import check_slos, exit_code
from pulltheplug.spec import SloSpec
from tests.analysis.history import failing, run, stream


@pytest.fixture(scope="module")
def outage() -> Summary:
    """node3 down from 12 s to 14 s of 30 s, fault at 10 s, revert at 20 s: availability ~0.978 over the run,
    ~0.967 over the fault and recovery phases, outage ~2 s, healthy at ~4 s."""
    return summarize(run(stream(200.0, 30.0, fail=failing("node3", 12.0, 14.0))))


def test_all_slos_pass(outage: Summary) -> None:
    slo = SloSpec(availability=0.96, max_outage=3.0, recover_within=5.0, p99_latency=0.01).model_dump()
    results = check_slos(outage, slo)
    assert [r.name for r in results] == ["availability", "max_outage", "recover_within", "p99_latency"]
    assert all(r.passed for r in results)
    assert exit_code(results) == 0


def test_each_slo_can_fail_with_a_one_line_message(outage: Summary) -> None:
    slo = SloSpec(availability=0.99, max_outage=1.0, recover_within=2.0, p99_latency=0.001).model_dump()
    results = {r.name: r for r in check_slos(outage, slo)}
    assert not any(r.passed for r in results.values())
    assert (
        results["availability"].message.startswith("availability (fault+recovery) 0.966")
        and "< 0.99" in results["availability"].message
    )
    assert results["max_outage"].measured == pytest.approx(2.0, abs=0.015)
    assert results["max_outage"].message.endswith("> 1s")
    assert "> 2s" in results["recover_within"].message
    assert results["p99_latency"].measured == pytest.approx(0.002, rel=0.01)
    assert all("\n" not in r.message for r in results.values())
    assert exit_code(list(results.values())) == 1


@pytest.mark.parametrize(("of", "measured", "words"), [
    ("fault_and_recovery", 1 - 2 / 60, "fault+recovery"),
    ("run", 1 - 2 / 90, "run"),
    ("steady", 1.0, "steady"),
    ("fault", 1 - 2 / 30, "fault"),
    ("recovery", 1.0, "recovery"),
])
def test_availability_is_judged_over_the_phases_asked(outage: Summary, of: str, measured: float, words: str) -> None:
    (r,) = check_slos(outage, SloSpec.model_validate({"availability": 0.97, "availability_of": of}).model_dump())
    assert r.name == "availability"
    assert r.measured == pytest.approx(measured, abs=1e-3)
    assert r.passed is (measured >= 0.97)
    assert r.message.startswith(f"availability ({words}) ")


def test_a_long_steady_phase_does_not_dilute_the_default() -> None:
    """Ten minutes of steady load before a 2 s outage: the run's availability passes 0.99, the default fails."""
    s = summarize(run(stream(50.0, 630.0, fail=failing("node3", 612.0, 614.0)),
                      phases={"steady": 0.0, "fault": 610.0, "revert": 620.0, "converged": 622.0, "end": 630.0}))
    assert s.availability.overall is not None and s.availability.overall > 0.99
    (default,) = check_slos(s, SloSpec(availability=0.99).model_dump())
    (whole,) = check_slos(s, SloSpec(availability=0.99, availability_of="run").model_dump())
    assert not default.passed and default.measured == pytest.approx(1 - 2 / 60, abs=1e-3)
    assert whole.passed


def test_a_run_without_a_fault_is_judged_over_the_run() -> None:
    s = summarize(run(stream(200.0, 5.0), phases={"end": 5.0}, fault_node=None))
    (r,) = check_slos(s, {"availability": 0.99})
    assert r.passed and r.measured == 1.0 and r.message.startswith("availability (run) ")


def test_one_failure_is_enough_to_fail(outage: Summary) -> None:
    results = check_slos(outage, {"availability": 0.5, "max_outage": 1.0})
    assert [r.passed for r in results] == [True, False]
    assert exit_code(results) == 1


def test_never_recovered_fails_recover_within() -> None:
    s = summarize(run(stream(200.0, 30.0, fail=failing("node3", 12.0, 99.0)), phases={"fault": 10.0, "end": 30.0}))
    r, never_converged = check_slos(s, {"recover_within": 600.0})
    assert r.measured is None and not r.passed
    assert "never" in r.message
    assert never_converged.name == "converged" and not never_converged.passed


def test_no_slo_set_passes() -> None:
    s = summarize(run())
    assert check_slos(s, SloSpec().model_dump()) == []
    assert check_slos(s, {}) == []
    assert exit_code([]) == 0


def test_unmeasurable_availability_fails() -> None:
    (r,) = check_slos(summarize(run()), {"availability": 0.9})
    assert not r.passed and r.measured is None


def test_interrupted_run_is_still_judged() -> None:
    s = summarize(run(stream(200.0, 5.0), status="interrupted", phases={"end": 5.0}))
    assert s.status == "interrupted"
    results = check_slos(s, {"availability": 0.99})
    assert [(r.name, r.passed) for r in results] == [("run_completed", False), ("availability", True)]


def test_a_run_that_never_converged_fails_even_without_slos(outage: Summary) -> None:
    from pulltheplug.analysis import Phases

    base = outage
    healed = dataclasses.replace(base, phases=Phases(0.0, 10.0, 30.0, 60.0, converged=40.0))
    stuck = dataclasses.replace(base, phases=Phases(0.0, 10.0, 30.0, 60.0, converged=None))
    assert check_slos(healed, {}) == []
    results = check_slos(stuck, {})
    assert [(r.name, r.passed) for r in results] == [("converged", False)]
    assert exit_code(results) == 1


def test_an_interrupted_run_never_passes_even_when_its_slos_hold() -> None:
    s = summarize(run(stream(200.0, 5.0), status="interrupted", phases={"end": 5.0}, fault_node=None))
    for slo in ({"availability": 0.99}, {}):
        results = check_slos(s, slo)
        first = results[0]
        assert (first.name, first.passed) == ("run_completed", False)
        assert first.message.startswith("run interrupted")
        assert exit_code(results) == 1


def test_a_failed_run_fails_with_its_error() -> None:
    made = run(stream(200.0, 5.0), status="failed", phases={"end": 5.0})
    made.meta.error = "ClusterError: the observer lost every manager"
    (r,) = check_slos(summarize(made), {})
    assert (r.name, r.passed) == ("run_completed", False)
    assert r.message == "run failed: ClusterError: the observer lost every manager"


def test_recover_within_fails_when_the_planned_fault_never_started() -> None:
    cut = summarize(run(stream(200.0, 5.0), status="interrupted", phases={"steady": 0.0, "end": 5.0}))
    assert cut.fault.kind == "nic-down" and cut.fault.start is None
    recover = next(r for r in check_slos(cut, {"recover_within": 30.0}) if r.name == "recover_within")
    assert not recover.passed and "never started" in recover.message
    no_fault = summarize(run(stream(200.0, 5.0), phases={"steady": 0.0, "end": 5.0}, fault_node=None))
    assert [(r.name, r.passed) for r in check_slos(no_fault, {"recover_within": 30.0})] == [("recover_within", True)]


def test_p99_latency_checks_all_requests_unless_told_ok() -> None:
    """node3 times out (1 s) for 2 s of 30: 2% of all requests, so their p99 is the timeout; ok ones stay fast."""
    requests = [dataclasses.replace(r, end=r.due + 1.0) if r.error == "timeout" else r
                for r in stream(200.0, 30.0, fail=failing("node3", 12.0, 14.0, kind="timeout"))]
    s = summarize(run(requests))
    (all_requests,) = check_slos(s, {"p99_latency": 0.5})
    assert not all_requests.passed and all_requests.measured == pytest.approx(1.0, rel=0.01)
    assert all_requests.message.startswith("p99_latency (all requests) 1.0") and all_requests.message.endswith("> 0.5s")
    assert check_slos(s, SloSpec(p99_latency=0.5).model_dump()) == [all_requests]  # the spec's default
    (ok_only,) = check_slos(s, SloSpec(p99_latency=0.5, p99_latency_of="ok").model_dump())
    assert ok_only.passed and ok_only.message == "p99_latency (ok requests) 0.002s <= 0.5s"


def test_p99_latency_of_is_all_or_ok() -> None:
    assert SloSpec().p99_latency_of == "all"
    with pytest.raises(ValidationError):
        SloSpec(p99_latency_of="fast")  # type: ignore[arg-type]


def test_no_findings_fails_only_for_a_rule_found(outage: Summary) -> None:
    slo = SloSpec(no_findings=["unsound-measurement", "collateral"]).model_dump()
    results = {r.name: r for r in check_slos(outage, slo)}
    assert set(results) == {"no_findings[unsound-measurement]", "no_findings[collateral]"}
    assert all(r.passed for r in results.values())  # a healthy baseline; only node3 suffered
    found = Finding("unsound-measurement", "found", "high", "the client fell behind its schedule")
    sick = dataclasses.replace(outage, findings=[found])
    (result,) = check_slos(sick, {"no_findings": ["unsound-measurement"]})
    assert not result.passed and result.message == "unsound-measurement found: the client fell behind its schedule"
    with pytest.raises(ValidationError, match="aftershocks"):
        SloSpec(no_findings=["aftershocks"])
