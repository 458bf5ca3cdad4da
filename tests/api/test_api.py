"""pulltheplug.api without a cluster: specs from keywords, results read from the synthetic run's folder, the
assertion helpers' verdicts and messages, and `run` with the cluster and the runner stubbed."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from pulltheplug import api, backends
from pulltheplug.analysis.results import write_results
from pulltheplug.analysis.verdict import check_slos
from pulltheplug.errors import ClusterError, FaultError, SpecError
from pulltheplug.records.campaign_index import CAMPAIGN, INDEX, CampaignEntry
from pulltheplug.run import campaign, experiment
from pulltheplug.run.events import RunEvents
from pulltheplug.spec import CampaignSpec, ExperimentSpec, load_spec
from tests.report.synthetic import PASSING_SLOS, synthetic_run, write_run

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> api.RunResult:
    """The synthetic 60 s run (nic-down of node3, one of three, from 20 s to 40 s; max_outage fails), judged."""
    folder = write_run(tmp_path_factory.mktemp("api") / "run", synthetic_run())
    write_results(folder)
    return api.result_of(folder)


def test_keywords_land_where_the_yaml_would_put_them() -> None:
    spec = api.experiment_spec(fault="nic-down", target="random-worker", duration="5s", rate=100, steady="3s",
                               settle="2s", wait_whole=0, seed=7, lab="ptpt", name="cut",
                               slo={"availability": 0.9}, workload={"port": 8090})
    assert (spec.fault.kind, spec.fault.target, spec.fault.duration, spec.fault.seed) == ("nic-down",
                                                                                          "random-worker", 5.0, 7)
    assert (spec.load.rate, spec.phases.steady, spec.phases.settle, spec.phases.wait_whole) == (100, 3.0, 2.0, 0.0)
    assert (spec.cluster.kind, spec.cluster.lab, spec.name) == ("lab", "ptpt", "cut")
    # a section is merged key by key: the rest of it keeps the defaults
    assert spec.slo.availability == 0.9 and spec.workload.port == 8090 and spec.workload.service == "ptp-web"
    assert spec.load.timeout == ExperimentSpec().load.timeout


def test_a_lab_or_an_inventory_keeps_the_base_s_known_hosts() -> None:
    base = "cluster: {kind: ssh, hosts: a.yml, known_hosts: /etc/kh}\n"
    inventory = api.experiment_spec(base, inventory=Path("b.yml")).cluster
    assert (inventory.kind, inventory.hosts, inventory.known_hosts) == ("ssh", Path("b.yml"), Path("/etc/kh"))
    mine = api.experiment_spec(base, inventory=Path("b.yml"), known_hosts=Path("/mine")).cluster
    assert mine.known_hosts == Path("/mine")
    assert api.experiment_spec(base, known_hosts=Path("/mine")).cluster.hosts == Path("a.yml")
    lab = api.experiment_spec(base, lab="other").cluster
    assert (lab.kind, lab.lab, lab.hosts) == ("lab", "other", None)  # a lab has no SSH hosts


def test_run_fault_takes_known_hosts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[Any] = []

    def closed(cluster: Any, *args: Any) -> None:
        opened.append(cluster)
        raise ClusterError("hosts do not answer")

    monkeypatch.setattr(backends, "open_cluster", closed)
    with pytest.raises(ClusterError):
        api.run_fault(inventory=Path("h.yml"), known_hosts=Path("/kh"), runs_dir=tmp_path)
    assert opened[0].known_hosts == Path("/kh")


def test_a_fault_section_and_an_inventory() -> None:
    spec = api.experiment_spec(fault={"kind": "loss", "loss": 30}, target="node2", inventory=Path("hosts.yaml"))
    assert (spec.fault.kind, spec.fault.loss, spec.fault.target) == ("loss", 30.0, "node2")
    assert spec.cluster.kind == "ssh" and spec.cluster.hosts == Path("hosts.yaml")


def test_a_spec_file_text_or_dict_is_the_base() -> None:
    from_file = api.experiment_spec(SCENARIOS / "nic-down.yaml", duration=3)
    base = load_spec(SCENARIOS / "nic-down.yaml")
    assert from_file.fault.duration == 3.0 and (from_file.name, from_file.fault.kind) == (base.name, base.fault.kind)
    assert api.experiment_spec("load: {rate: 50}\n", rate=60).load.rate == 60
    assert api.experiment_spec({"phases": {"steady": "1s"}}).phases.steady == 1.0


@pytest.mark.parametrize(("spec", "keywords", "message"), [
    (None, {"bogus": 1}, "unknown spec keyword 'bogus': give one of analysis, cluster"),
    (None, {"rate": -1}, "load.rate: Input should be greater than 0"),
    (None, {"lab": "a", "inventory": Path("h.yaml")}, "give a lab ('a') or an inventory (h.yaml), not both"),
    ("scenarios/nic-down.yaml", {}, "reads as a file name: pass Path('scenarios/nic-down.yaml')"),
    (Path("no/such.yaml"), {}, "spec no/such.yaml does not exist"),
    (None, {"lab": "Not A Lab"}, "cluster"),
])
def test_wrong_keywords_are_spec_errors(spec: Any, keywords: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match=re.escape(message)):
        api.experiment_spec(spec, **keywords)


def test_the_result_is_the_summary_json(result: api.RunResult) -> None:
    s = result.summary
    assert result.status == "complete" and not result.passed and result.exit_code == 1
    assert [x.name for x in result.failed_slos] == ["max_outage"]
    assert result.availability == s.availability.faulted
    assert result.worst_window(1.0) == next(w.worst for w in s.windowed_availability if w.window_s == 1.0)
    assert result.detected_after == 10.0  # node3 Down at 30 s, the cut at 20 s
    assert result.recovered_after == s.recover.requests_healthy_after_fault_start
    assert [f.rule for f in result.findings] == ["aftershock"]  # found only; every answer is in the summary
    assert len(s.findings) > 1


def test_a_window_size_the_summary_lacks_is_computed_from_the_records(result: api.RunResult) -> None:
    assert 5.0 not in {w.window_s for w in result.summary.windowed_availability}
    # one node in three answers nothing for 20 s: any 5 s window inside the cut has two thirds ok
    assert result.worst_window(5.0) == pytest.approx(2 / 3, abs=0.002)
    assert result.worst_window(600.0) is None  # longer than the run


def test_properties_for_junit(result: api.RunResult) -> None:
    props = dict(result.properties())
    assert props["pulltheplug.run_folder"] == str(result.folder)
    assert props["pulltheplug.fault"] == "nic-down@node3"
    assert props["pulltheplug.passed"] == "False" and props["pulltheplug.failed_slos"] == "max_outage"
    assert props["pulltheplug.detected_after_s"] == "10" and props["pulltheplug.findings"] == "aftershock"
    assert all(isinstance(v, str) for v in props.values())


def test_an_interrupted_run_exits_130_and_never_passes(tmp_path: Path) -> None:
    folder = write_run(tmp_path / "run", synthetic_run(slo=PASSING_SLOS, interrupted_at=35.0))
    made = api.result_of(folder)  # no summary.json: made from the records
    assert made.status == "interrupted" and made.exit_code == 130 and not made.passed
    with pytest.raises(AssertionError, match="run interrupted"):
        api.assert_passed(made)


HELPERS: list[tuple[str, Any]] = [
    ("assert_availability", lambda r: api.assert_availability(r, at_least=0.5)),
    ("assert_availability window", lambda r: api.assert_availability(r, at_least=0.5, window=1.0)),
    ("assert_detected_within", lambda r: api.assert_detected_within(r, 30)),
    ("assert_recovered_within", lambda r: api.assert_recovered_within(r, 60)),
    ("assert_no_findings", lambda r: api.assert_no_findings(r, kinds=["collateral"])),
    ("assert_passed", api.assert_passed),
]


@pytest.mark.parametrize("interrupted_at", [15.0, 35.0])
@pytest.mark.parametrize(("helper", "check"), HELPERS, ids=[h for h, _ in HELPERS])
def test_every_helper_refuses_an_interrupted_run(tmp_path: Path, interrupted_at: float, helper: str,
                                                 check: Any) -> None:
    """Interrupted in its steady phase a run has availability 1.0 and no findings; at 35 s node3 was seen lost
    at 30 s: each figure would pass, the run must not."""
    folder = write_run(tmp_path / "run", synthetic_run(slo=PASSING_SLOS, interrupted_at=interrupted_at))
    with pytest.raises(AssertionError, match=rf"^run interrupted \(run {re.escape(str(folder))}\)$"):
        check(api.result_of(folder))


@pytest.mark.parametrize(("helper", "check"), HELPERS, ids=[h for h, _ in HELPERS])
def test_every_helper_refuses_a_failed_run(tmp_path: Path, helper: str, check: Any) -> None:
    made = synthetic_run(slo=PASSING_SLOS)
    made.meta.status, made.meta.error = "failed", "FaultError: revert failed: eth0 still down"
    folder = write_run(tmp_path / "run", made)
    with pytest.raises(AssertionError, match=r"^run failed: FaultError: revert failed: eth0 still down \(run "):
        check(api.result_of(folder))


@pytest.mark.parametrize(("helper", "check"), HELPERS, ids=[h for h, _ in HELPERS])
def test_every_helper_refuses_a_run_that_never_converged(result: api.RunResult, helper: str, check: Any) -> None:
    summary = replace(result.summary, phases=replace(result.summary.phases, converged=None))
    made = api.RunResult(result.folder, summary, check_slos(summary, PASSING_SLOS))
    with pytest.raises(AssertionError, match=r"^run never converged: converged: the cluster did not converge"):
        check(made)


def test_availability_is_none_where_a_fault_started_and_no_request_was_due_after(result: api.RunResult) -> None:
    """Not the whole run's figure: its steady phase says nothing of the fault."""
    no_faulted = replace(result.summary.availability, faulted=None)
    made = api.RunResult(result.folder, replace(result.summary, availability=no_faulted), result.slos)
    assert made.availability is None
    with pytest.raises(AssertionError, match=r"^availability over the fault and recovery: no figure"):
        api.assert_availability(made, at_least=0.5)
    no_fault = replace(result.summary.fault, start=None)
    whole = api.RunResult(result.folder, replace(made.summary, fault=no_fault), result.slos)
    assert whole.availability == result.summary.availability.overall
    with pytest.raises(AssertionError, match=r"^availability over the run 0\.8888 < 0\.99"):
        api.assert_availability(whole)


def test_assert_availability(result: api.RunResult) -> None:
    api.assert_availability(result, at_least=0.8)
    api.assert_availability(result, at_least=0.65, window=1.0)
    with pytest.raises(AssertionError) as caught:
        api.assert_availability(result)
    assert str(caught.value) == f"availability over the fault and recovery 0.8333 < 0.99 (run {result.folder})"
    with pytest.raises(AssertionError, match=r"^worst 1 s window 0\.6600 < 0\.9 \(run "):
        api.assert_availability(result, at_least=0.9, window=1.0)
    with pytest.raises(AssertionError, match=r"^worst 600 s window: no figure"):
        api.assert_availability(result, window=600)


def test_assert_detected_and_recovered_within(result: api.RunResult) -> None:
    api.assert_detected_within(result, 10)
    with pytest.raises(AssertionError, match=r"^detected after 10\.00 s > 5 s \(run "):
        api.assert_detected_within(result, 5)
    api.assert_recovered_within(result, 25)
    with pytest.raises(AssertionError, match=r"^requests healthy again after 20\.01 s > 15 s"):
        api.assert_recovered_within(result, 15)


def test_never_detected_and_never_recovered_say_so(tmp_path: Path) -> None:
    folder = write_run(tmp_path / "run", synthetic_run(slo=PASSING_SLOS, interrupted_at=25.0))
    cut = api.result_of(folder)  # cut short before node3 was seen Down, still failing at the end
    # read as if it had completed there, so the helpers look at its figures rather than refuse it
    made = api.RunResult(folder, replace(cut.summary, status="complete"),
                         [s for s in cut.slos if s.name != "run_completed"])
    with pytest.raises(AssertionError, match=r"^not detected during the fault \(node3 never seen lost\); bound 30 s"):
        api.assert_detected_within(made, 30)
    with pytest.raises(AssertionError, match=r"^requests never healthy again after the fault start; bound 30 s"):
        api.assert_recovered_within(made, 30)


def test_assert_no_findings(result: api.RunResult) -> None:
    api.assert_no_findings(result, kinds=["collateral", "unsound-measurement"])
    with pytest.raises(AssertionError, match=r"^1 finding\(s\): aftershock: the node's return disturbed"):
        api.assert_no_findings(result)
    with pytest.raises(SpecError, match=r"unknown finding kind\(s\) aftershocks: give some of aftershock"):
        api.assert_no_findings(result, kinds=["aftershocks"])


def test_assert_passed_lists_the_failing_slos(result: api.RunResult) -> None:
    with pytest.raises(AssertionError, match=r"^SLO\(s\) failed: max_outage 20\.010s > 5s \(run "):
        api.assert_passed(result)


def test_run_opens_the_spec_s_cluster_and_judges_the_folder(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    folder = write_run(tmp_path / "run", synthetic_run(slo=PASSING_SLOS))
    opened: list[tuple[Any, ...]] = []
    monkeypatch.setattr(backends, "open_cluster", lambda *args: opened.append(args) or "cluster")

    def execute(spec: ExperimentSpec, text: str, cluster: Any, runs_dir: Path, events: RunEvents) -> Path:
        assert cluster == "cluster" and runs_dir == tmp_path and "kind: nic-down" in text
        events.folder_made(folder)
        write_results(folder)
        return folder

    monkeypatch.setattr(experiment, "execute", execute)
    made = api.run_fault("nic-down", "node3", "5s", lab="ptpt", runs_dir=tmp_path, html=False)
    assert made.folder == folder and made.passed and made.exit_code == 0
    ((cluster, faults, targets),) = opened
    assert (cluster.lab, faults, targets) == ("ptpt", ["nic-down"], ["node3"])


def test_a_run_that_fails_raises_with_what_it_recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made = synthetic_run(slo=PASSING_SLOS)
    made.meta.status, made.meta.error = "failed", "FaultError: revert failed: eth0 still down"
    folder = write_run(tmp_path / "run", made)
    write_results(folder)  # as the run does before it raises
    monkeypatch.setattr(backends, "open_cluster", lambda *args: None)

    def execute(spec: ExperimentSpec, text: str, cluster: Any, runs_dir: Path, events: RunEvents) -> Path:
        events.folder_made(folder)
        raise FaultError("nic-down on node3: revert failed: eth0 still down")

    monkeypatch.setattr(experiment, "execute", execute)
    with pytest.raises(api.RunFailedError, match=r"records in .*FaultError: nic-down on node3") as caught:
        api.run_fault("nic-down", "node3", runs_dir=tmp_path, html=False)
    assert isinstance(caught.value.__cause__, FaultError)
    assert caught.value.result is not None and caught.value.result.status == "failed"


def test_a_cluster_that_is_not_there_is_a_cluster_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def closed(*args: Any) -> None:
        raise ClusterError("lab 'nolab' is not up")

    monkeypatch.setattr(backends, "open_cluster", closed)
    with pytest.raises(ClusterError, match="nolab"):
        api.run_fault(lab="nolab")


def test_the_api_needs_neither_typer_nor_the_cli_and_the_plugin_loads_light() -> None:
    code = ("import sys; import pulltheplug.pytest_plugin; light = sorted(m for m in ('pulltheplug.api', 'docker', "
            "'numpy', 'pyarrow') if m in sys.modules); import pulltheplug.api; "
            "print(light, sorted(m for m in sys.modules if m == 'typer' or m.startswith('pulltheplug.cli')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[] []"


def test_campaign_keywords_set_the_lab_and_the_repetitions() -> None:
    spec = api.campaign_spec(SCENARIOS / "campaign-small.yaml", lab="other", repetitions=1)
    assert (spec.base.cluster.lab, spec.repetitions, spec.name) == ("other", 1, "small")
    assert spec.base.workload.port == 8090  # the rest of the base is the file's


def test_run_campaign_reads_every_run_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[tuple[Any, ...]] = []
    monkeypatch.setattr(backends, "open_cluster", lambda *args: opened.append(args) or "cluster")

    def run_campaign(spec: CampaignSpec, cluster: Any, runs_dir: Path, events: RunEvents) -> Path:
        """One run of the planned one (the synthetic nic-down of node3), written where a campaign writes it."""
        folder = runs_dir / "20260301-120000-campaign-small"
        folder.mkdir(parents=True)
        (folder / CAMPAIGN).write_text(yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False))
        write_run(folder / "run1", synthetic_run(slo=PASSING_SLOS))
        entry = CampaignEntry(1, "nic-down@random-worker", "nic-down", "random-worker", 1, "run1", "complete",
                              True, False)
        (folder / INDEX).write_text(json.dumps(asdict(entry)) + "\n")
        return folder

    monkeypatch.setattr(campaign, "run_campaign", run_campaign)
    small = yaml.safe_load((SCENARIOS / "campaign-small.yaml").read_text())
    made = api.run_campaign({**small, "faults": ["nic-down"]}, repetitions=1, runs_dir=tmp_path, html=False)
    ((cluster, faults, targets),) = opened
    assert (cluster.lab, faults, targets) == ("ptpt", ["nic-down"], ["random-worker"])
    (run,) = made.runs
    assert run.folder == made.folder / "run1" and run.passed and made.passed
    assert made.comparison.planned == 1
