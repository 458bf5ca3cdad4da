"""The SSH backend against real sshd inside lab nodes: trust, check, run, the Docker forward, dead-man faults.

Lab nodes share this machine's kernel: reboot, sysrq and power commands are never sent; the boot_id guard
must refuse them, and a test shows that it does.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shlex
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

import pulltheplug
from pulltheplug.errors import FaultError
from pulltheplug.lab import lab as labmod
from pulltheplug.ssh import deadman, node_actions
from pulltheplug.ssh.check import check_cluster, controller_boot_id, gather
from pulltheplug.ssh.errors import (
    AuthFailedError,
    ConnectionLostError,
    HostKeyChangedError,
    HostUnreachableError,
    MachineFaultRefusedError,
    UnknownHostKeyError,
)
from pulltheplug.ssh.inventory import Host, Inventory, load_inventory
from pulltheplug.ssh.session import Sessions, SshOptions
from pulltheplug.ssh.trust import trust
from tests.ssh import sshd

pytestmark = pytest.mark.lab

LAB = "sshw"
CLI = [sys.executable, "-m", "pulltheplug"]
ENV = {**os.environ, "PYTHONPATH": str(Path(pulltheplug.__file__).parents[1]), "COLUMNS": "200"}


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sshd.SshdLab]:
    """A 2-node lab (1 manager, 1 worker) with sshd in each node; sshd stopped by pid, the lab taken down."""
    labmod.down(LAB)
    lab = labmod.up(LAB, nodes=2, managers=1)
    started: sshd.SshdLab | None = None
    try:
        started = sshd.start(lab, tmp_path_factory.mktemp("sshd"))
        yield started
    finally:
        if started is not None:
            started.stop()
        labmod.down(LAB)


def options(nodes: sshd.SshdLab, **kw: float) -> SshOptions:
    return SshOptions(known_hosts=nodes.known_hosts, **kw)  # type: ignore[arg-type]


def eth0_up(node: str) -> bool:
    out = subprocess.run(["ip", "-n", f"ptp-{LAB}-{node}", "-br", "link", "show", "eth0"],
                         capture_output=True, text=True, check=True).stdout.split()
    return out[1] == "UP"


def wait_until(predicate: object, timeout: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():  # type: ignore[operator]
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"not true within {timeout} s")


def test_trust_records_new_keys_knows_them_again_and_refuses_a_changed_one(nodes: sshd.SshdLab,
                                                                            tmp_path: Path) -> None:
    inv = load_inventory(nodes.inventory)
    known = tmp_path / "sub" / "known_hosts"
    first = trust(inv, known)
    assert [r.status for r in first] == ["added", "added"]
    for r in first:
        expected = subprocess.run(["ssh-keygen", "-lf", str(nodes.folder / r.host / "host_key.pub")],
                                  capture_output=True, text=True, check=True).stdout.split()[1]
        assert r.fingerprint == expected
    assert oct(known.stat().st_mode & 0o777) == "0o600"
    assert [r.status for r in trust(inv, known)] == ["known", "known"]
    other = tmp_path / "other_key"
    sshd.keygen(other, "someone-else")
    lines = known.read_text().splitlines()
    lines[0] = f"{nodes.addresses['node1']} " + " ".join(other.with_suffix(".pub").read_text().split()[:2])
    known.write_text("\n".join(lines) + "\n")
    before = known.read_text()
    third = trust(inv, known)
    assert [r.status for r in third] == ["changed", "known"] and "refused, not overwritten" in third[0].detail
    assert known.read_text() == before


def test_cli_trust_prints_fingerprints_and_exits_0(nodes: sshd.SshdLab, tmp_path: Path) -> None:
    proc = subprocess.run([*CLI, "cluster", "trust", str(nodes.inventory), "--known-hosts", str(tmp_path / "kh")],
                          capture_output=True, text=True, timeout=60, env=ENV)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("SHA256:") == 2 and "added" in proc.stdout


def test_run_and_the_forwarded_docker_socket(nodes: sshd.SshdLab) -> None:
    with Sessions(load_inventory(nodes.inventory), options(nodes)) as sessions:
        node2 = sessions["node2"]
        started = time.monotonic()
        node2.connect()
        connect_s = time.monotonic() - started
        out = node2.run("id -u; ip -br addr show eth0", 5).stdout.split()
        assert out[0] == "0" and f"{nodes.addresses['node2']}/24" in out  # root, in the node's network
        assert node2.run("exit 3", 5).exit == 3
        client = node2.docker_client(5)
        try:
            swarm = client.info()["Swarm"]
            assert swarm["NodeAddr"] == nodes.addresses["node2"] and swarm["LocalNodeState"] == "active"
        finally:
            client.close()
        print(f"connect {connect_s * 1000:.0f} ms")


def test_cli_check_passes_reversible_faults_and_refuses_machine_faults_here(nodes: sshd.SshdLab) -> None:
    started = time.monotonic()
    proc = subprocess.run([*CLI, "cluster", "check", str(nodes.inventory), "--known-hosts", str(nodes.known_hosts),
                           "--faults", "nic-down,freeze", "--json"],
                          capture_output=True, text=True, timeout=60, env=ENV)
    took = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(proc.stdout)
    by_host = {h["host"]: h for h in data["hosts"]}
    assert by_host["node1"]["facts"]["swarm_role"] == "manager" and by_host["node2"]["facts"]["swarm_role"] == "worker"
    for name, report in by_host.items():
        assert report["passes"] and report["interface"] == "eth0"
        assert report["facts"]["swarm_address"] == nodes.addresses[name]
        assert report["facts"]["boot_id"] == controller_boot_id()
        assert abs(report["facts"]["clock_offset"]) < 0.05  # the same clock: only the measuring error
    print(f"cluster check of 2 hosts (CLI, with start-up): {took:.2f} s")
    seed = subprocess.run([*CLI, "cluster", "check", str(nodes.inventory), "--known-hosts", str(nodes.known_hosts)],
                          capture_output=True, text=True, timeout=60, env=ENV)
    print(seed.stdout)
    assert seed.returncode == 2
    assert "same boot_id as the controller" in seed.stdout and "cannot run the planned faults on: node1, node2" in (
        " ".join(seed.stdout.split()))


def test_unknown_host_key_is_refused(nodes: sshd.SshdLab, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with Sessions(load_inventory(nodes.inventory), SshOptions(known_hosts=empty)) as sessions, \
            pytest.raises(UnknownHostKeyError, match=r"^node1: unknown host key for 10\.213\.\d+\.2: run "
                                                     r"`pulltheplug cluster trust .*hosts\.yaml`$"):
        sessions["node1"].connect()


def test_changed_host_key_is_refused(nodes: sshd.SshdLab, tmp_path: Path) -> None:
    other = tmp_path / "other_key"
    sshd.keygen(other, "someone-else")
    known = tmp_path / "known_hosts"
    known.write_text(f"{nodes.addresses['node1']} " + " ".join(other.with_suffix(".pub").read_text().split()[:2]))
    with Sessions(load_inventory(nodes.inventory), SshOptions(known_hosts=known)) as sessions, \
            pytest.raises(HostKeyChangedError, match=r"^node1: host key changed"):
        sessions["node1"].connect()


def test_a_wrong_user_key_is_one_line_exit_2(nodes: sshd.SshdLab, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong_key"
    sshd.keygen(wrong, "not-authorized")
    inv = load_inventory(nodes.inventory)
    bad = Inventory(hosts=tuple(h.model_copy(update={"key": wrong}) for h in inv.hosts), source="hosts.yaml")
    with Sessions(bad, options(nodes)) as sessions, pytest.raises(AuthFailedError, match=r"^node1: .*check user/key"):
        sessions["node1"].connect()
    text = tmp_path / "hosts.yaml"
    text.write_text(nodes.inventory.read_text().replace(str(nodes.user_key), str(wrong)))
    proc = subprocess.run([*CLI, "cluster", "check", str(text), "--known-hosts", str(nodes.known_hosts), "--json"],
                          capture_output=True, text=True, timeout=60, env=ENV)
    assert proc.returncode == 2
    assert all("check user/key" in h["facts"]["error"] for h in json.loads(proc.stdout)["hosts"])


def test_a_host_that_does_not_answer(nodes: sshd.SshdLab, tmp_path: Path) -> None:
    silent = nodes.addresses["node1"].rsplit(".", 1)[0] + ".250"  # in the lab subnet, nobody there
    inv = Inventory(hosts=(Host(name="ghost", address=silent, key=nodes.user_key),), source="hosts.yaml")
    started = time.monotonic()
    with Sessions(inv, options(nodes, connect_timeout=2.0)) as sessions, \
            pytest.raises(HostUnreachableError, match=f"^ghost: cannot reach {silent}:22"):
        sessions["ghost"].connect()
    assert time.monotonic() - started < 6


def test_nic_down_dead_man_brings_eth0_back_after_the_session_died(nodes: sshd.SshdLab) -> None:
    with Sessions(load_inventory(nodes.inventory), options(nodes)) as sessions:
        node2 = sessions["node2"]
        node2.connect()
        started = time.monotonic()
        with pytest.raises(ConnectionLostError, match=r"^node2: the SSH connection was lost"):
            node2.run(deadman.nic_down(node2.host, "eth0", 5, "setsid"), 15)
        lost = time.monotonic() - started
        assert not eth0_up("node2")
        wait_until(lambda: eth0_up("node2"), 10)
        back = time.monotonic() - started
        assert 4.5 < back < 8
        assert node_actions.link_is_up(node2, "eth0")  # the next use reconnects
        print(f"nic-down: session lost after {lost:.2f} s, eth0 back after {back:.2f} s (dead-man 5 s)")


def test_nic_down_action_confirms_by_the_lost_session(nodes: sshd.SshdLab) -> None:
    with Sessions(load_inventory(nodes.inventory), options(nodes)) as sessions:
        node1 = sessions["node1"]
        evidence = node_actions.nic_down(node1, "eth0", 4, "setsid")
        assert evidence.session_lost and 2.5 < evidence.took < 6  # 3 keepalives of 1 s
        wait_until(lambda: eth0_up("node1"), 8)
        assert node_actions.nic_up(node1, "eth0", "setsid").exit == 0  # heals idempotently once reachable


def test_nothing_is_injected_when_the_dead_man_cannot_be_armed(nodes: sshd.SshdLab) -> None:
    with Sessions(load_inventory(nodes.inventory), options(nodes)) as sessions:
        with pytest.raises(FaultError, match=r"^node2: nic-down not injected"):
            node_actions.nic_down(sessions["node2"], "eth0", 5, "systemd-run")  # no systemd as PID 1 here
        assert eth0_up("node2") and sessions["node2"].run("true", 5).exit == 0


def test_the_dead_man_heals_the_node_after_the_controller_is_killed(nodes: sshd.SshdLab, tmp_path: Path) -> None:
    controller = tmp_path / "controller.py"
    controller.write_text(textwrap.dedent(f"""
        from pathlib import Path
        from pulltheplug.ssh import deadman
        from pulltheplug.ssh.inventory import load_inventory
        from pulltheplug.ssh.session import Sessions, SshOptions
        with Sessions(load_inventory(Path({str(nodes.inventory)!r})),
                      SshOptions(known_hosts=Path({str(nodes.known_hosts)!r}))) as sessions:
            node = sessions["node2"]
            node.connect()
            print("connected", flush=True)
            node.run(deadman.nic_down(node.host, "eth0", 4, "setsid"), 30)
    """))
    proc = subprocess.Popen([sys.executable, str(controller)], stdout=subprocess.PIPE, text=True,
                            env=ENV)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "connected"
        wait_until(lambda: not eth0_up("node2"), 5)
        down_at = time.monotonic()
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(10)
    wait_until(lambda: eth0_up("node2"), 10)  # nobody left to revert it but the node itself
    assert time.monotonic() - down_at > 2


def test_freeze_dead_man_thaws_the_node(nodes: sshd.SshdLab) -> None:
    lab = labmod.Lab.open(LAB)
    with Sessions(load_inventory(nodes.inventory), options(nodes)) as sessions:
        node2 = sessions["node2"]
        started = time.monotonic()
        assert node2.run(deadman.freeze(node2.host, 3, "setsid"), 10).exit == 0
        assert lab.node_frozen("node2")
        wait_until(lambda: not lab.node_frozen("node2"), 10)
        assert time.monotonic() - started > 2.5


def test_disarm_cancels_a_dead_man(nodes: sshd.SshdLab) -> None:
    lab = labmod.Lab.open(LAB)
    with Sessions(load_inventory(nodes.inventory), options(nodes)) as sessions:
        node2 = sessions["node2"]
        assert node2.run(deadman.freeze(node2.host, 2, "setsid"), 10).exit == 0
        assert node2.run(deadman.thaw(node2.host) + "; " + deadman.disarm("thaw", "node2", "setsid"), 10).exit == 0
        node2.run(node2.host.faults["freeze"], 5)  # frozen again by hand: the cancelled dead-man must not thaw it
        time.sleep(3)
        assert lab.node_frozen("node2")
        node2.run(deadman.thaw(node2.host), 5)
        assert not lab.node_frozen("node2")


def test_the_boot_id_guard_refuses_machine_faults_on_lab_nodes(nodes: sshd.SshdLab) -> None:
    inv = load_inventory(nodes.inventory)
    with Sessions(inv, options(nodes)) as sessions:
        facts = gather(sessions["node1"], inv.host("node1"), 10)
    assert facts.boot_id == controller_boot_id()
    for build in (deadman.reboot, deadman.crash):
        with pytest.raises(MachineFaultRefusedError, match=r"^node1: .* refused: it runs on the same kernel"):
            build(inv.host("node1"), facts.boot_id, controller_boot_id())
    reports = check_cluster(inv, ("power-loss",), options(nodes))
    assert not any(r.passes for r in reports)


RUN_SPEC = """
name: ssh-{kind}
cluster: {{kind: ssh, hosts: {inventory}, known_hosts: {known_hosts}}}
workload: {{service: ssh-probe, port: 8091, entry: {entry}}}
load: {{rate: 100, timeout: 500ms}}
fault: {{kind: {kind}, target: node2, duration: {duration}s}}
phases: {{steady: 3s, settle: 3s, timeout: 120s}}
"""


def _run_over_ssh(nodes: sshd.SshdLab, tmp_path: Path, kind: str, duration: float,
                  entry: str = "nodes", template: str = RUN_SPEC) -> tuple[Path, list[tuple[float, bool]]]:
    """`pulltheplug run` on the hosts through SSH, the node's eth0 polled meanwhile (monotonic time, up)."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(template.format(kind=kind, inventory=nodes.inventory, known_hosts=nodes.known_hosts,
                                    duration=duration, entry=entry))
    netns = labmod.Lab.open(LAB).plan.node("node2").netns
    samples: list[tuple[float, bool]] = []
    proc = subprocess.Popen([*CLI, "run", str(spec), "--runs-dir", str(tmp_path / "runs")], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        while proc.poll() is None:
            flags = subprocess.run(["ip", "-n", netns, "-o", "link", "show", "eth0"], capture_output=True,
                                   text=True, check=False).stdout
            samples.append((time.monotonic(), "state UP" in flags or ",UP" in flags.split(">")[0]))
            time.sleep(0.1)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out[-2000:] + err[-2000:]
    return next((tmp_path / "runs").glob(f"*-ssh-{kind}")), samples


def test_a_nic_down_run_over_ssh_is_reverted_by_the_dead_man_and_reported(nodes: sshd.SshdLab,
                                                                          tmp_path: Path) -> None:
    from pulltheplug.analysis.results import read_results
    from pulltheplug.records.folder import load_run

    folder, samples = _run_over_ssh(nodes, tmp_path, "nic-down", 8.0)
    run = load_run(folder)
    assert run.meta.status == "complete" and run.meta.cluster["kind"] == "ssh"
    injected = next(e for e in run.events if e.type == "fault" and e.data["action"] == "injected")
    assert injected.data["evidence"]["session_lost"] is True  # the SSH session died with the link
    # eth0 as the test saw it: down once, for the fault's length, brought back by the node's own dead-man
    down = [i for i, (_, up) in enumerate(samples) if not up]
    assert down, "eth0 never went down"
    assert down == list(range(down[0], down[-1] + 1))  # one cut
    # the cut lies between the last sample up before it and the first one up after (a loaded machine polls
    # `ip` slower than every 0.1 s): those bracket it, whatever the polling's pace. The dead-man counts from
    # the cut, not from its arming: the link is down the 8 s asked, however late the cutting command came
    # (counted from the arming, a loaded CI machine cut it for 7.47 s)
    inner = samples[down[-1]][0] - samples[down[0]][0]
    outer = samples[down[-1] + 1][0] - samples[down[0] - 1][0]
    assert inner <= 9.0 and outer >= 7.9, (inner, outer)
    results = read_results(folder)
    assert results is not None
    summary, _ = results
    node2 = [w for w in summary.outages if w.entry == "node2"]
    felt = max(w.duration for w in node2) if node2 else None
    assert felt is not None and inner - 1.0 <= felt <= outer + 1.0, (node2, inner, outer)  # what users felt
    assert (folder / "report.html").exists()
    assert all(up for t, up in samples if t > samples[down[-1]][0] + 0.2)
    # the controller's own link: lost within the keepalives (3 x 1 s) of the cut, back once eth0 was up again;
    # the run went on in between
    sessions = [e for e in run.events if e.type == "session" and e.data["host"] == "node2"]
    lost = next(e for e in sessions if e.data["state"] == "lost")
    back = next(e for e in sessions if e.data["state"] == "back" and e.t > lost.t)
    cut_at, up_at = samples[down[0]][0] - run.meta.t0_monotonic, samples[down[-1]][0] - run.meta.t0_monotonic
    assert cut_at - 0.2 <= lost.t <= cut_at + 5.0, (lost, cut_at)
    assert back.t >= up_at - 0.2, (back, up_at)


def test_a_freeze_run_over_ssh(nodes: sshd.SshdLab, tmp_path: Path) -> None:
    from pulltheplug.records.folder import load_run

    folder, _ = _run_over_ssh(nodes, tmp_path, "freeze", 5.0)
    run = load_run(folder)
    assert run.meta.status == "complete" and "converged" in run.meta.phases
    during = [q for q in run.requests if q.target == "node2"
              and run.meta.phases["fault"] + 0.5 < q.due < run.meta.phases["revert"] - 1.0]
    assert during and all(q.outcome != "ok" for q in during)  # a hung engine answers nothing
    reverted = next(e for e in run.events if e.type == "fault" and e.data["action"] == "reverted")
    assert reverted.data["evidence"]["exit"] == 0  # thawed by the controller, the dead-man disarmed


def test_a_power_loss_run_over_ssh_through_a_command_power_driver(nodes: sshd.SshdLab, tmp_path: Path) -> None:
    """The driver is what a PDU script would be: run on the controller, it cuts (and restores) node2's power,
    here the lab's own power cut of that node. The boot_id guard does not stop it: the supply is not the kernel."""
    from pulltheplug.records.folder import load_run

    def lab_call(method: str) -> str:
        code = f"from pulltheplug.lab.lab import Lab; Lab.open({LAB!r}).{method}('node2')"
        return f"{sys.executable} -c {shlex.quote(code)}"

    inventory = yaml.safe_load(nodes.inventory.read_text())
    inventory["hosts"]["node2"]["power"] = {"kind": "command", "off": lab_call("power_off_node"),
                                             "on": lab_call("boot_node"), "status": "true"}
    powered = nodes.folder / "powered.yaml"
    powered.write_text(yaml.safe_dump(inventory))
    with_driver = dataclasses.replace(nodes, inventory=powered)
    folder, _ = _run_over_ssh(with_driver, tmp_path, "power-loss", 5.0)
    run = load_run(folder)
    assert run.meta.status == "complete" and "converged" in run.meta.phases
    injected = next(e for e in run.events if e.type == "fault" and e.data["action"] == "injected")
    assert injected.data["evidence"]["driver"] == "command" and injected.data["evidence"]["engine_answering"] is False
    reverted = next(e for e in run.events if e.type == "fault" and e.data["action"] == "reverted")
    assert reverted.data["evidence"] == {"engine_answering": True}
    # from the moment the cut was confirmed (the driver here is a Python process that takes up to ~1 s to
    # start on a busy machine, as a real PDU has its own delay), a node without power answers nothing
    during = [q for q in run.requests if q.target == "node2" and injected.t < q.due < run.meta.phases["revert"]]
    assert during and all(q.outcome != "ok" for q in during)
    assert labmod.Lab.open(LAB).node_running("node2")


def test_a_nic_down_over_ssh_through_haproxy_on_the_controller(nodes: sshd.SshdLab, tmp_path: Path) -> None:
    """HAProxy runs on the controller, on loopback, in front of the hosts: users behind it lose only what was
    in flight until its checks gave up on node2; nothing of it is left after the run."""
    from pulltheplug.analysis import summarize
    from pulltheplug.records.folder import load_run

    entry = "{kind: haproxy, haproxy: {inter: 500ms, fall: 2, rise: 2, connect_timeout: 500ms}}"
    folder, samples = _run_over_ssh(nodes, tmp_path, "nic-down", 6.0, entry)
    run = load_run(folder)
    s = summarize(run)
    assert s.status == "complete" and run.meta.entries == {"haproxy": "http://127.0.0.1:8091/"}
    d = s.door
    assert d is not None and d.node == "node2" and d.down_bound is not None
    assert d.routed_around_after_fault_start is not None and s.fault.start is not None
    # over SSH the dead-man is armed before the fault starts, and the link goes down one command later: HAProxy's bound
    # counts from the cut itself, as the test saw it. That command's trip is the start's uncertainty: within the
    # round trip the arming just before it took (0.1 s here when idle; a loaded CI machine took 0.8 s once), + 0.3 s
    cut = min(t for t, up in samples if not up) - run.meta.t0_monotonic
    inject = next(e for e in run.events if e.type == "fault" and e.data["action"] == "inject")
    trip = inject.data["deadman"]["took"]
    assert 0 <= cut - s.fault.start <= max(0.6, trip + 0.3), (cut, s.fault.start, trip)
    marked = s.fault.start + d.routed_around_after_fault_start
    assert marked - cut <= d.down_bound + 0.3, (marked, cut, d)
    revert = s.phases.revert
    assert revert is not None
    during = [r for r in run.requests if marked + 0.5 < r.due < revert]
    assert during and all(r.outcome == "ok" and r.node == "node1" for r in during)
    assert not _processes_named("haproxy")


def _processes_named(name: str) -> list[int]:
    found = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            with contextlib.suppress(OSError):  # gone meanwhile
                if (p / "comm").read_text().strip() == name:
                    found.append(int(p.name))
    return found


def _nft_table(node: str) -> bool:
    return subprocess.run(["ip", "netns", "exec", f"ptp-{LAB}-{node}", "nft", "list", "table", "inet", "pulltheplug"],
                          capture_output=True, check=False).returncode == 0


def _ping(src: str | None, dst: str) -> bool:
    cmd = ["busybox", "ping", "-c", "1", "-W", "1", dst]
    if src is not None:
        cmd = ["ip", "netns", "exec", f"ptp-{LAB}-{src}", *cmd]
    return subprocess.run(cmd, capture_output=True, check=False).returncode == 0


def test_a_partition_over_ssh_cuts_the_hosts_apart_but_not_from_the_controller(nodes: sshd.SshdLab,
                                                                              tmp_path: Path) -> None:
    """nftables on both hosts through SSH, each with its dead-man armed first: node1 and node2 cannot reach
    each other, the controller reaches both; the run removes the tables."""
    from pulltheplug.records.folder import load_run

    spec = tmp_path / "spec.yaml"
    spec.write_text(RUN_SPEC.format(kind="partition", inventory=nodes.inventory, known_hosts=nodes.known_hosts,
                                    duration=6, entry="nodes"))
    proc = subprocess.Popen([*CLI, "run", str(spec), "--runs-dir", str(tmp_path / "runs")], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    during: list[tuple[bool, bool, bool]] = []
    try:
        assert wait_until(lambda: _nft_table("node1") and _nft_table("node2"), 60) is not None
        time.sleep(0.5)
        during.append((_ping("node1", nodes.addresses["node2"]), _ping(None, nodes.addresses["node2"]),
                       _ping(None, nodes.addresses["node1"])))
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out[-2000:] + err[-2000:]
    assert during == [(False, True, True)]
    assert not _nft_table("node1") and not _nft_table("node2")
    run = load_run(next((tmp_path / "runs").glob("*-ssh-partition")))
    injected = next(e for e in run.events if e.type == "fault" and e.data["action"] == "injected")
    assert set(injected.data["evidence"]) == {"node1", "node2"}
    assert all(v["drop_rules"] >= 2 for v in injected.data["evidence"].values())
    assert run.meta.status == "complete" and _ping("node1", nodes.addresses["node2"])


def test_a_flap_over_ssh_is_driven_on_the_host_and_ends_with_the_link_up(nodes: sshd.SshdLab,
                                                                        tmp_path: Path) -> None:
    """The loop runs on the host (each down cuts SSH, the loop goes on): the link goes down once per period,
    as the test saw it, and is up after the run."""
    from pulltheplug.records.folder import load_run

    flap_spec = RUN_SPEC.replace("duration: {duration}s}", "duration: {duration}s, flap: {{period: 2s, down: 500ms}}}")
    folder, polled = _run_over_ssh(nodes, tmp_path, "flap", 6, template=flap_spec)
    samples = [up for _, up in polled]
    downs = sum(1 for a, b in zip([True, *samples], samples, strict=False) if a and not b)
    assert downs == 3, downs
    run = load_run(folder)
    reverted = next(e for e in run.events if e.type == "fault" and e.data["action"] == "reverted")
    assert reverted.data["evidence"]["downs"] == 3 and reverted.data["evidence"]["eth0_up"] is True
    assert eth0_up("node2")
