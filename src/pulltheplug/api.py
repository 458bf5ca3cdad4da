"""pulltheplug from Python: open a cluster, run an experiment or a campaign, read its verdict as typed objects.

Why a second front end beside the CLI: a team that already tests in Python wants its resilience checks to be
tests (pytest's fixtures, selection, JUnit and CI wiring) rather than shell steps that parse exit codes. This
module is that front end, and only that: it opens clusters through `pulltheplug.backends` as `pulltheplug run`
does, runs through the same runners (`run.experiment`, `run.campaign`), and hands back the same summary
(`analysis.Summary`, `analysis.verdict.SloResult`) that `summary.json` holds. Nothing here measures or judges
anew; the assertion helpers only compare the summary's figures with the caller's bounds and say both.

It prints nothing and serves nothing (no progress panel, no live page): a test's output is pytest's. Errors are
pulltheplug's own (`errors.PulltheplugError` and `RunFailedError` below), never `sys.exit`.

    from pulltheplug import api

    result = api.run_fault("nic-down", "random-worker", "5s", lab="lab", steady="3s", settle="3s")
    api.assert_availability(result, at_least=0.7, window=1.0)
    print(result.folder, result.availability, result.recovered_after)

Runs install SIGINT/SIGTERM handlers for their length (Ctrl-C reverts the fault and keeps the run), so they
must be started from the main thread, as pytest runs tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pulltheplug import backends
from pulltheplug.analysis import Summary
from pulltheplug.analysis.findings import RULES, Finding
from pulltheplug.analysis.request_figures import sent_mask
from pulltheplug.analysis.results import SUMMARY, results_of_folder
from pulltheplug.analysis.verdict import SloResult, exit_code
from pulltheplug.analysis.windowed import windowed_figures
from pulltheplug.cluster.seam import Cluster
from pulltheplug.errors import PulltheplugError, RunError, SpecError
from pulltheplug.records.folder import load_run
from pulltheplug.report.campaign_html import CampaignResults, campaign_results, write_campaign_report
from pulltheplug.report.html import write_html
from pulltheplug.run import campaign, experiment
from pulltheplug.run.events import EventRegistry, Folders, ReportOnResults, RunEvents
from pulltheplug.spec import CampaignSpec, ClusterSpec, ExperimentSpec, load_campaign, load_spec, parse_spec
from pulltheplug.spec.base import validated

INTERRUPTED = 130  # the exit code of an interrupted run, as `pulltheplug run` gives it
CONVERGED = "converged"  # the SLO analysis.verdict adds when a complete run's cluster never converged

# Flat keyword overrides a test writes most (`rate=100`), and where each lands in the spec; every other keyword
# names a top-level section of the spec (`workload={...}`, `slo={...}`), merged key by key into it.
SHORTCUTS: dict[str, tuple[str, str]] = {
    "rate": ("load", "rate"),
    "steady": ("phases", "steady"),
    "settle": ("phases", "settle"),
    "wait_whole": ("phases", "wait_whole"),
    "seed": ("fault", "seed"),
}

SpecLike = ExperimentSpec | Path | str | Mapping[str, Any]


class RunFailedError(RunError):
    """The run raised before it ended (a fault not reverted, a cluster that stopped answering...).

    `result` is the run as far as it got (its folder and summary: `run_completed` fails) when the run wrote a
    summary before failing, else None; the original error is the `__cause__`.
    """

    def __init__(self, message: str, result: RunResult | None) -> None:
        super().__init__(message)
        self.result = result


@dataclass(frozen=True, slots=True)
class RunResult:
    """One run as its folder holds it: the summary and SLO verdict of `summary.json`, and shortcuts to the figures
    a resilience test asserts on. Every shortcut is a field of `summary`, named for what it measures; None means
    the records cannot say (no request due, the node never seen lost...), never zero."""

    folder: Path
    summary: Summary
    slos: list[SloResult]

    @property
    def status(self) -> str:
        """complete, interrupted or failed."""
        return self.summary.status

    @property
    def passed(self) -> bool:
        """Every SLO of the spec held (a run that did not complete never passes: `run_completed` fails)."""
        return exit_code(self.slos) == 0

    @property
    def exit_code(self) -> int:
        """What `pulltheplug run` would exit with: 0 passed, 1 an SLO failed, 130 interrupted."""
        return INTERRUPTED if self.status == "interrupted" else exit_code(self.slos)

    @property
    def failed_slos(self) -> list[SloResult]:
        return [s for s in self.slos if not s.passed]

    @property
    def availability(self) -> float | None:
        """ok / due over the fault and recovery phases (what the availability SLO judges by default: a long steady
        phase must not dilute it); over the whole run only where no fault started. None where a fault started but
        no request was due after its start (a run cut short at the fault): the steady phase says nothing of it."""
        a = self.summary.availability
        return a.overall if self.summary.fault.start is None else a.faulted

    def worst_window(self, seconds: float) -> float | None:
        """The worst ok / sent over every window of `seconds` (analysis/windowed.py): what users felt at worst.

        Sizes the spec's `analysis.windows` named come from the summary; any other size is computed from the
        records (a second or so for a minute's run). None: the run is shorter than the window."""
        for w in self.summary.windowed_availability:
            if w.window_s == seconds:
                return w.worst
        run = load_run(self.folder, columnar=True)
        if run.columns is None:  # load_run gives columns when asked for them
            raise RunError(f"{self.folder}: no request columns to compute a {seconds:g} s window from")
        (figure,) = windowed_figures(run.columns, sent_mask(run.columns), [seconds], self.summary.fault.start).overall
        return figure.worst

    @property
    def error_seconds(self) -> int | None:
        """1 s bins of the run with at least one failed request."""
        return self.summary.error_seconds

    @property
    def detected_after(self) -> float | None:
        """Seconds from the fault start to the cluster seeing the node lost, during the fault (None: it never did
        while the fault lasted; `summary.detect.node_lost_after_revert` says whether it did later)."""
        return self.summary.detect.node_lost_after_fault_start

    @property
    def recovered_after(self) -> float | None:
        """Seconds from the fault start until requests were healthy again for good (`recover_within`'s figure)."""
        return self.summary.recover.requests_healthy_after_fault_start

    @property
    def findings(self) -> list[Finding]:
        """The findings found (every rule's answer, found or not, is in `summary.findings`)."""
        return [f for f in self.summary.findings if f.found]

    def properties(self) -> list[tuple[str, str]]:
        """The key figures as (name, value) pairs: the pytest plugin records them, so they land in pytest's JUnit
        XML beside the test that ran the fault."""
        worst_1s = next((w.worst for w in self.summary.windowed_availability if w.window_s == 1.0), None)
        figures: dict[str, object] = {
            "run_folder": self.folder, "status": self.status, "passed": self.passed,
            "fault": f"{self.summary.fault.kind}@{self.summary.fault.node or self.summary.fault.target}",
            "availability": self.availability, "worst_1s": worst_1s, "error_seconds": self.error_seconds,
            "detected_after_s": self.detected_after, "recovered_after_s": self.recovered_after,
            "findings": ",".join(f.rule for f in self.findings),
            "failed_slos": ",".join(s.name for s in self.failed_slos),
        }
        return [(f"pulltheplug.{name}", _plain(value)) for name, value in figures.items()]


@dataclass(frozen=True, slots=True)
class CampaignResult:
    """A campaign folder read back: each run that wrote a summary, and the comparison the campaign report shows."""

    folder: Path
    runs: list[RunResult]
    comparison: CampaignResults

    @property
    def passed(self) -> bool:
        """Every planned run ran, and every one held every SLO."""
        return len(self.runs) == self.comparison.planned and all(r.passed for r in self.runs)


def _plain(value: object) -> str:
    if value is None:
        return ""
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def cluster_spec(*, lab: str | None = None, inventory: Path | None = None,
                 known_hosts: Path | None = None) -> ClusterSpec:
    """A lab by name (default "lab"), or the SSH hosts an inventory names; not both."""
    if lab is not None and inventory is not None:
        raise SpecError(f"give a lab ({lab!r}) or an inventory ({inventory}), not both")
    if inventory is not None:
        return ClusterSpec(kind="ssh", hosts=inventory, known_hosts=known_hosts)
    data: dict[str, Any] = {"kind": "lab"} | ({"lab": lab} if lab is not None else {})
    spec: ClusterSpec = validated(ClusterSpec, yaml.safe_dump(data), "cluster")
    return spec


def open_cluster(*, lab: str | None = None, inventory: Path | None = None, known_hosts: Path | None = None,
                 faults: Sequence[str] = (), targets: Sequence[str] = ()) -> Cluster:
    """The cluster, as `pulltheplug run` opens it: a lab must be up (ClusterError otherwise); SSH hosts must pass
    `cluster check` for `faults` on the hosts `targets` may hit. `run` opens its own from the spec; this is for a
    test that looks at the cluster itself (`status()`, `is_whole()`)."""
    return backends.open_cluster(cluster_spec(lab=lab, inventory=inventory, known_hosts=known_hosts), faults, targets)


def _merge(into: dict[str, Any], values: Mapping[str, Any]) -> None:
    for key, value in values.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def experiment_spec(spec: SpecLike | None = None, *, fault: str | Mapping[str, Any] | None = None,
                    target: str | None = None,
                    duration: str | float | None = None, lab: str | None = None, inventory: Path | None = None,
                    known_hosts: Path | None = None, name: str | None = None, **overrides: Any) -> ExperimentSpec:
    """The spec (an ExperimentSpec, a YAML file's Path, YAML text, or a dict as the YAML would read; default: the
    defaults) with the keywords on top, validated again as a whole, so a wrong value is a SpecError naming it.

    Keywords: `fault`, `target`, `duration` (the one fault); `lab` or `inventory` (the cluster, the rest of the
    base's `cluster` kept: its `known_hosts`), `known_hosts` (the SSH host keys); `name`; the
    shortcuts `rate`, `steady`, `settle`, `wait_whole`, `seed`; or any top-level section of the spec as a dict,
    merged key by key (`slo={"availability": 0.99}`, `workload={"port": 8090}`; `fault={"loss": 30}` too)."""
    data = _base(spec).model_dump(mode="json")  # plain YAML types (paths as strings)
    for key, value in overrides.items():
        if key in SHORTCUTS:
            section, field = SHORTCUTS[key]
            data[section][field] = value
        elif key in ExperimentSpec.model_fields and key != "name":
            _merge(data, {key: value})
        else:
            known = sorted({*SHORTCUTS, *ExperimentSpec.model_fields} - {"name"})
            raise SpecError(f"unknown spec keyword {key!r}: give one of {', '.join(known)}")
    if isinstance(fault, Mapping):
        _merge(data, {"fault": fault})
        fault = None
    for field, value in (("kind", fault), ("target", target), ("duration", duration)):
        if value is not None:
            data["fault"][field] = value
    _set_cluster(data["cluster"], lab=lab, inventory=inventory, known_hosts=known_hosts)
    if name is not None:
        data["name"] = name
    return parse_spec(yaml.safe_dump(data, sort_keys=False), "keywords")


def _set_cluster(cluster: dict[str, Any], *, lab: str | None, inventory: Path | None,
                 known_hosts: Path | None) -> None:
    """The keywords over the base's `cluster` section: a lab drops the base's SSH `hosts` (a lab has none), an
    inventory keeps the base's `known_hosts` unless `known_hosts` is given too."""
    if lab is not None and inventory is not None:
        raise SpecError(f"give a lab ({lab!r}) or an inventory ({inventory}), not both")
    if lab is not None:
        cluster.update(kind="lab", lab=lab, hosts=None)
    if inventory is not None:
        cluster.update(kind="ssh", hosts=str(inventory))
    if known_hosts is not None:
        cluster["known_hosts"] = str(known_hosts)


def _base(spec: SpecLike | None) -> ExperimentSpec:
    if spec is None:
        return ExperimentSpec()
    if isinstance(spec, ExperimentSpec):
        return spec
    if isinstance(spec, Path):
        if not spec.exists():
            raise SpecError(f"spec {spec} does not exist")
        return load_spec(spec)
    if isinstance(spec, str):
        if "\n" not in spec and spec.endswith((".yaml", ".yml")):
            raise SpecError(f"{spec!r} reads as a file name: pass Path({spec!r}) for a file, or the YAML text")
        return parse_spec(spec, "text")
    return parse_spec(yaml.safe_dump(dict(spec), sort_keys=False), "dict")


def result_of(folder: Path) -> RunResult:
    """A run folder read back (summary.json, else made from its records): to assert on a run made earlier."""
    if not folder.is_dir():
        raise RunError(f"{folder} is not a run folder")
    summary, slos = results_of_folder(folder)
    return RunResult(folder, summary, slos)


def run(spec: SpecLike | None = None, *, lab: str | None = None, inventory: Path | None = None,
        known_hosts: Path | None = None, runs_dir: Path = Path("runs"), name: str | None = None, html: bool = True,
        events: RunEvents | None = None, **overrides: Any) -> RunResult:
    """One experiment, end to end as `pulltheplug run` does it: the cluster whole, the workload, the load, the
    fault and its revert, observation until converged, `summary.json` (and `report.html` unless `html` is
    False) in a new folder under `runs_dir`. Keywords as in `experiment_spec`; `events` hears the run as the
    CLI's terminal does (progress, the folder as soon as it exists).

    Returns the result whatever the verdict (an SLO that fails is a result, not an error; an interrupted run
    too, `status` says so). Raises SpecError or ClusterError before anything is injected, and RunFailedError
    when the run itself failed."""
    exp = experiment_spec(spec, lab=lab, inventory=inventory, known_hosts=known_hosts, name=name, **overrides)
    text = yaml.safe_dump(exp.model_dump(mode="json"), sort_keys=False)
    cluster = backends.open_cluster(exp.cluster, *exp.fault_plan())
    folders = Folders()
    handlers = EventRegistry(folders, *([ReportOnResults(write_html)] if html else []), *([events] if events else []))
    try:
        folder = experiment.execute(exp, text, cluster, runs_dir, handlers)
    except Exception as exc:
        made = folders.made[0] if folders.made else None
        result = result_of(made) if made is not None and (made / SUMMARY).exists() else None
        where = f" (records in {made})" if made is not None else ""
        raise RunFailedError(f"run {exp.name} failed{where}: {type(exc).__name__}: {exc}", result) from exc
    finally:
        close_cluster(cluster)
    return result_of(folder)


def close_cluster(cluster: Cluster) -> None:
    """Let go of what the cluster holds open (SSH sessions: a test session runs many runs in one process, where
    the CLI's one run ends with its process); a lab holds nothing."""
    close = getattr(cluster, "close", None)
    if callable(close):
        close()


def run_fault(fault: str = "nic-down", target: str = "random", duration: str | float = "20s", *,
              lab: str | None = None, inventory: Path | None = None, known_hosts: Path | None = None,
              runs_dir: Path = Path("runs"), name: str | None = None, html: bool = True,
              spec: SpecLike | None = None, **overrides: Any) -> RunResult:
    """One fault on one target, on the defaults (or `spec`) with the keywords on top: the test's own words for
    `pulltheplug run --fault F --target T --duration D`. The run is named after the fault unless `name` is
    given."""
    return run(spec, lab=lab, inventory=inventory, known_hosts=known_hosts, runs_dir=runs_dir, html=html,
               name=name or f"{fault}-{target}", fault=fault, target=target, duration=duration, **overrides)


def campaign_spec(spec: CampaignSpec | Path | Mapping[str, Any], *, lab: str | None = None,
                  repetitions: int | None = None) -> CampaignSpec:
    """A campaign spec from a spec, its YAML file or a dict, with the lab and the repetitions set over it."""
    if isinstance(spec, CampaignSpec):
        data = spec.model_dump(mode="json")
    elif isinstance(spec, Path):
        data = load_campaign(spec).model_dump(mode="json")
    else:
        data = dict(spec)
    if repetitions is not None:
        data["repetitions"] = repetitions
    if lab is not None:
        _merge(data, {"base": {"cluster": {"kind": "lab", "lab": lab}}})
    made: CampaignSpec = validated(CampaignSpec, yaml.safe_dump(data, sort_keys=False), "campaign")
    return made


def run_campaign(spec: CampaignSpec | Path | Mapping[str, Any], *, lab: str | None = None,
                 repetitions: int | None = None, runs_dir: Path = Path("runs"), html: bool = True,
                 events: RunEvents | None = None) -> CampaignResult:
    """Every fault on every target, `repetitions` times, back to back, as `pulltheplug campaign` does; then the
    comparison (and its report.html unless `html` is False). A run that fails is one result of the campaign,
    not its end; the cluster is waited for (or a lab rebuilt) between runs."""
    made = campaign_spec(spec, lab=lab, repetitions=repetitions)
    cluster = backends.open_cluster(made.base.cluster, made.faults, made.targets)
    handlers = EventRegistry(*([ReportOnResults(write_html)] if html else []), *([events] if events else []))
    try:
        folder = campaign.run_campaign(made, cluster, runs_dir, handlers)
    finally:
        close_cluster(cluster)
    res = campaign_results(folder)
    if html:
        write_campaign_report(res)
    runs = [RunResult(folder / r.entry.folder, r.summary, r.slos) for r in res.runs if r.summary is not None]
    return CampaignResult(folder, runs, res)


# The assertions a resilience test makes. Each fails with the measured figure beside the bound and the run
# folder, so a red CI line says how far off the cluster was and where the records are. Each refuses first a run
# that did not complete or never converged: such a run never passes, whatever its figures (a run interrupted in
# its steady phase has a perfect availability and no findings).


def _fail(result: RunResult, what: str) -> AssertionError:
    return AssertionError(f"{what} (run {result.folder})")


def _refuse_unfinished(result: RunResult) -> None:
    """Fail a run that was interrupted, failed, or whose cluster never converged after the fault."""
    if result.status == "interrupted":
        raise _fail(result, "run interrupted")
    if result.status != "complete":
        raise _fail(result, f"run {result.status}" + (f": {result.summary.error}" if result.summary.error else ""))
    if unconverged := [s for s in result.slos if s.name == CONVERGED and not s.passed]:
        raise _fail(result, f"run never converged: {unconverged[0].message}")


def assert_availability(result: RunResult, at_least: float = 0.99, window: float | None = None) -> None:
    """ok / due over the fault and recovery phases at least `at_least`; with `window` (seconds), the worst window
    of that size instead: the stricter question of what users felt at the worst moment."""
    _refuse_unfinished(result)
    if window is None:
        measured = result.availability
        what = ("availability over the run" if result.summary.fault.start is None
                else "availability over the fault and recovery")
    else:
        measured, what = result.worst_window(window), f"worst {window:g} s window"
    if measured is None:
        raise _fail(result, f"{what}: no figure (no request judged) < {at_least:.4g}")
    if measured < at_least:
        raise _fail(result, f"{what} {measured:.4f} < {at_least:.4g}")


def assert_detected_within(result: RunResult, seconds: float) -> None:
    """The cluster saw the faulted node lost during the fault, at most `seconds` after the fault start."""
    _refuse_unfinished(result)
    measured = result.detected_after
    if measured is None:
        later = result.summary.detect.node_lost_after_revert
        seen = f"seen lost only {later:.2f} s after the revert" if later is not None else "never seen lost"
        raise _fail(result, f"not detected during the fault ({result.summary.fault.node or 'the node'} {seen}); "
                            f"bound {seconds:g} s")
    if measured > seconds:
        raise _fail(result, f"detected after {measured:.2f} s > {seconds:g} s")


def assert_recovered_within(result: RunResult, seconds: float) -> None:
    """Requests healthy again for good at most `seconds` after the fault start (the `recover_within` SLO)."""
    _refuse_unfinished(result)
    measured = result.recovered_after
    if measured is None:
        raise _fail(result, f"requests never healthy again after the fault start; bound {seconds:g} s")
    if measured > seconds:
        raise _fail(result, f"requests healthy again after {measured:.2f} s > {seconds:g} s")


def assert_no_findings(result: RunResult, kinds: Iterable[str] | None = None) -> None:
    """None of the findings `kinds` (rule names of analysis/findings.py; default: every rule) was found."""
    wanted = set(RULES) if kinds is None else set(kinds)
    if unknown := sorted(wanted - set(RULES)):
        raise SpecError(f"unknown finding kind(s) {', '.join(unknown)}: give some of {', '.join(RULES)}")
    _refuse_unfinished(result)
    found = [f for f in result.findings if f.rule in wanted]
    if found:
        raise _fail(result, f"{len(found)} finding(s): " + "; ".join(f"{f.rule}: {f.text}" for f in found))


def assert_passed(result: RunResult) -> None:
    """Every SLO of the spec held; the message gives each failing SLO's own line."""
    _refuse_unfinished(result)
    if not result.passed:
        raise _fail(result, "SLO(s) failed: " + "; ".join(s.message for s in result.failed_slos))


__all__ = [
    "CampaignResult",
    "PulltheplugError",
    "RunFailedError",
    "RunResult",
    "assert_availability",
    "assert_detected_within",
    "assert_no_findings",
    "assert_passed",
    "assert_recovered_within",
    "campaign_spec",
    "close_cluster",
    "cluster_spec",
    "experiment_spec",
    "open_cluster",
    "result_of",
    "run",
    "run_campaign",
    "run_fault",
]
