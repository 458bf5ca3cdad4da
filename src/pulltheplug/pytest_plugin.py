"""pytest plugin: resilience tests as tests. A fixture gives the cluster, another runs a fault and returns its
`api.RunResult`; the test asserts on it (`api.assert_availability`, ...); pytest's own `--junitxml` carries the
verdict, with each run's folder and key figures as properties of the test case.

    def test_a_worker_nic_cut(ptp_run):
        result = ptp_run(fault="nic-down", target="random-worker", duration="5s", steady="3s", settle="3s")
        assert_availability(result, at_least=0.7, window=1.0)

Which cluster: `--ptp-lab NAME` or `--ptp-inventory PATH` (SSH hosts), else the environment's
`PULLTHEPLUG_LAB` / `PULLTHEPLUG_INVENTORY`, else the ini keys `ptp_lab` / `ptp_inventory`: the first of these
three sources that names either wins whole (one source naming both is a usage error). With none of them, the tests
that use these fixtures are skipped, saying so: a developer's plain `pytest` stays green and quick. SSH host keys:
`--ptp-known-hosts` (env `PULLTHEPLUG_KNOWN_HOSTS`, ini `ptp_known_hosts`). Run folders go to `--ptp-runs-dir`
(ini `ptp_runs_dir`), else under pytest's temporary directory.

A run interrupted by Ctrl-C (its own handler reverts the fault and keeps the records, so the run returns) fails
its test, and the session ends (exit code 130) once that test's report, figures and all, is written: no further
test starts a fault.

pytest loads this module (an entry point, `pytest11`) in every session of every project where pulltheplug is
installed, this project's own included. So it imports nothing heavy at load time (the API imports docker, numpy,
pyarrow: about a second), only inside the fixtures; and its fixtures are all named `ptp_*`, so they never
shadow a project's own `lab` or `cluster`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pulltheplug.api import RunResult
    from pulltheplug.cluster.seam import Cluster

ENV_LAB = "PULLTHEPLUG_LAB"
ENV_INVENTORY = "PULLTHEPLUG_INVENTORY"
ENV_KNOWN_HOSTS = "PULLTHEPLUG_KNOWN_HOSTS"
INTERRUPTED_RUN = pytest.StashKey[Path]()  # on a test item: the folder of the run Ctrl-C interrupted in it


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pulltheplug", "pulltheplug: resilience tests on a Docker Swarm cluster")
    group.addoption("--ptp-lab", dest="ptp_lab", metavar="NAME", default=None,
                    help=f"Run the ptp_* fixtures' faults on this lab (env {ENV_LAB}, ini ptp_lab).")
    group.addoption("--ptp-inventory", dest="ptp_inventory", metavar="PATH", default=None,
                    help=f"...or on the SSH hosts of this inventory (env {ENV_INVENTORY}, ini ptp_inventory).")
    group.addoption("--ptp-known-hosts", dest="ptp_known_hosts", metavar="PATH", default=None,
                    help=f"SSH host keys for the inventory's hosts (env {ENV_KNOWN_HOSTS}, ini ptp_known_hosts; "
                         "default ~/.config/pulltheplug/).")
    group.addoption("--ptp-runs-dir", dest="ptp_runs_dir", metavar="DIR", default=None,
                    help="Keep run folders here (ini ptp_runs_dir; default: pytest's temporary directory).")
    parser.addini("ptp_lab", "pulltheplug: the lab the ptp_* fixtures use", default="")
    parser.addini("ptp_inventory", "pulltheplug: the SSH inventory the ptp_* fixtures use", default="")
    parser.addini("ptp_known_hosts", "pulltheplug: the SSH host keys the ptp_* fixtures use", default="")
    parser.addini("ptp_runs_dir", "pulltheplug: where run folders go", default="")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    """End the session after a test whose run was interrupted, once its reports are out (JUnit has its case)."""
    outcome = yield
    if (folder := item.stash.get(INTERRUPTED_RUN, None)) is not None:
        from pulltheplug.api import INTERRUPTED

        pytest.exit(f"pulltheplug: run interrupted (records in {folder})", returncode=INTERRUPTED)
    return outcome


@dataclass(frozen=True, slots=True)
class PtpTarget:
    """The cluster the session's fault tests run on: a lab by name, or an inventory's SSH hosts."""

    lab: str | None = None
    inventory: Path | None = None
    known_hosts: Path | None = None

    def describe(self) -> str:
        return f"lab {self.lab}" if self.lab is not None else f"inventory {self.inventory}"


def _setting(config: pytest.Config, name: str, env: str | None) -> str | None:
    """The option, else the environment, else the ini key; empty counts as unset."""
    value = config.getoption(name) or (os.environ.get(env) if env else None) or config.getini(name)
    return str(value) if value else None


def _sources(config: pytest.Config) -> Iterator[tuple[str, str | None, str | None]]:
    """(where, lab, inventory) from the command line, the environment and the ini file, in that order."""
    yield "the command line", config.getoption("ptp_lab"), config.getoption("ptp_inventory")
    yield "the environment", os.environ.get(ENV_LAB), os.environ.get(ENV_INVENTORY)
    yield "the ini file", str(config.getini("ptp_lab")), str(config.getini("ptp_inventory"))


def target_of(config: pytest.Config) -> PtpTarget | None:
    """The configured cluster, or None. The first source naming a lab or an inventory wins whole (an ini inventory
    does not clash with `--ptp-lab`); one source naming both is a usage error."""
    known = _setting(config, "ptp_known_hosts", ENV_KNOWN_HOSTS)
    known_hosts = Path(known) if known else None
    for where, lab, inventory in _sources(config):
        if lab and inventory:
            raise pytest.UsageError(f"pulltheplug: {where} gives a lab ({lab}) and an inventory ({inventory}): "
                                    "give one, not both")
        if lab:
            return PtpTarget(lab=lab, known_hosts=known_hosts)
        if inventory:
            return PtpTarget(inventory=Path(inventory), known_hosts=known_hosts)
    return None


def skip_reason(target: PtpTarget | None, euid: int) -> str | None:
    """Why the fault tests cannot run here, or None: no cluster named, or a lab without root (namespaces, cgroups
    and dockerd need it; SSH hosts do not)."""
    if target is None:
        return (f"pulltheplug: no cluster configured (--ptp-lab NAME or --ptp-inventory PATH, env {ENV_LAB} or "
                f"{ENV_INVENTORY}, ini ptp_lab or ptp_inventory)")
    if target.lab is not None and euid != 0:
        return f"pulltheplug: lab {target.lab} needs root"
    return None


@pytest.fixture(scope="session")
def ptp_target(pytestconfig: pytest.Config) -> PtpTarget:
    """The configured cluster; skips the test when none is, or when a lab is named without root."""
    target = target_of(pytestconfig)
    if (reason := skip_reason(target, os.geteuid())) is not None:
        pytest.skip(reason)
    assert target is not None  # skip_reason gives a reason for None
    return target


@pytest.fixture(scope="session")
def ptp_cluster(ptp_target: PtpTarget) -> Iterator[Cluster]:
    """The cluster itself (pulltheplug.cluster.seam.Cluster: `status()`, `is_whole()`, `nodes()`...), opened once
    per session. A lab that is not up, or hosts that do not answer, error the test with pulltheplug's message."""
    from pulltheplug import api
    from pulltheplug.errors import PulltheplugError

    try:
        cluster = api.open_cluster(lab=ptp_target.lab, inventory=ptp_target.inventory,
                                   known_hosts=ptp_target.known_hosts)
    except PulltheplugError as exc:
        pytest.fail(f"pulltheplug: {ptp_target.describe()}: {exc}", pytrace=False)
    try:
        yield cluster
    finally:
        api.close_cluster(cluster)


@pytest.fixture(scope="session")
def ptp_runs_dir(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where run folders go: --ptp-runs-dir (ini ptp_runs_dir), else a session folder under pytest's temporary
    directory (pytest keeps the last three sessions' folders)."""
    given = _setting(pytestconfig, "ptp_runs_dir", None)
    return Path(given) if given else tmp_path_factory.mktemp("ptp-runs")


@pytest.fixture
def ptp_run(ptp_target: PtpTarget, ptp_runs_dir: Path, request: pytest.FixtureRequest) -> Callable[..., RunResult]:
    """A callable: `ptp_run(fault="nic-down", target="random-worker", duration="5s", **spec_keywords)` runs one
    fault on the configured cluster (keywords as in `pulltheplug.api.experiment_spec`: `rate`, `steady`,
    `settle`, `slo={...}`, `workload={...}`, `spec=Path(...)` as the base...) and returns its RunResult. Each run
    opens the cluster itself and closes it after (sessions held across a session go stale when a node reboots);
    a cluster that cannot be opened (a lab not up, hosts that do not answer) fails the test with pulltheplug's
    message. An interrupted run fails the test and ends the session (exit code 130) after the test's report.

    Each run's folder and key figures are recorded as properties of the test (`pulltheplug.run_folder`,
    `pulltheplug.availability`, ...), so pytest's --junitxml carries them; a run that failed records its folder
    before its error is raised. They go on the test item's `user_properties` (what `record_property` does,
    without its warning under the default junit_family xunit2, whose schema has no test case properties: most CI
    readers take them all the same; set `junit_family = xunit1` where one validates the schema)."""
    from pulltheplug import api
    from pulltheplug.errors import ClusterError, LabError

    def record(result: RunResult) -> None:
        request.node.user_properties.extend(result.properties())

    def run_one(fault: str = "nic-down", target: str = "random", duration: str | float = "20s",
                **keywords: Any) -> RunResult:
        try:
            result = api.run_fault(fault, target, duration, lab=ptp_target.lab, inventory=ptp_target.inventory,
                                   known_hosts=ptp_target.known_hosts, runs_dir=ptp_runs_dir, **keywords)
        except api.RunFailedError as exc:
            if exc.result is not None:
                record(exc.result)
            raise
        except (ClusterError, LabError) as exc:  # before anything was injected: the cluster is not there
            pytest.fail(f"pulltheplug: {ptp_target.describe()}: {exc}", pytrace=False)
        record(result)
        if result.status == "interrupted":
            request.node.stash[INTERRUPTED_RUN] = result.folder
            pytest.fail(f"pulltheplug: run interrupted (records in {result.folder})", pytrace=False)
        return result

    return run_one
