"""An independent reading of a lab during a run, taken by the test itself and not by pulltheplug's code.

Threads of its own poll, on the monotonic clock: each node's eth0 flags (`ip -n NS link show eth0`), each
node's dockerd being alive (its pid in /proc), and each manager's `docker node ls` through the docker CLI
on the node's socket (a client other than the observer's docker-py). The test then holds the run's
figures against these readings.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from pulltheplug.lab import lab as labmod

CLI_TIMEOUT = 2.0  # seconds a `docker node ls` may take before it counts as no answer


@dataclass(frozen=True)
class NodeLs:
    """One `docker node ls` asked of one manager: when, and what it said (`answered` None: no answer)."""

    asked: float  # monotonic seconds
    manager: str
    answered: float | None = None
    leader: str | None = None
    status: dict[str, str] = field(default_factory=dict)  # node -> Ready | Down | Unknown


@dataclass(frozen=True)
class MajorityView:
    """From `start` on (run seconds), a majority of managers agreed on `leader` (None: no majority agreed)."""

    start: float
    leader: str | None


@dataclass(frozen=True)
class Sample:
    at: float
    node: str
    eth0_up: bool
    dockerd_alive: bool


class Witness:
    def __init__(self, lab: labmod.Lab, nic_interval: float = 0.1, ls_interval: float = 0.5) -> None:
        self.lab = lab
        self.nic_interval = nic_interval
        self.ls_interval = ls_interval
        self.samples: list[Sample] = []
        self.answers: list[NodeLs] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._nodes, daemon=True)] + [
            threading.Thread(target=self._node_ls, args=(n.name,), daemon=True)
            for n in lab.plan.nodes if n.role == "manager"]

    def __enter__(self) -> Witness:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=CLI_TIMEOUT + 2)

    def _nodes(self) -> None:
        while not self._stop.wait(self.nic_interval):
            for n in self.lab.plan.nodes:
                at = time.monotonic()
                flags = subprocess.run(["ip", "-n", n.netns, "-o", "link", "show", "eth0"],
                                       capture_output=True, text=True, check=False).stdout
                up = "state UP" in flags or ",UP" in flags.split(">")[0]
                self.samples.append(Sample(at, n.name, up, self.lab.node_running(n.name)))

    def _node_ls(self, manager: str) -> None:
        sock = self.lab.plan.node(manager).docker_host
        while not self._stop.is_set():
            asked = time.monotonic()
            try:
                out = subprocess.run(
                    ["docker", "-H", sock, "node", "ls", "--format", "{{.Hostname}} {{.Status}} {{.ManagerStatus}}"],
                    capture_output=True, text=True, timeout=CLI_TIMEOUT, check=False)
                answered = time.monotonic()
                answer = _parse(asked, answered, manager, out.stdout) if out.returncode == 0 else NodeLs(asked, manager)
            except subprocess.TimeoutExpired:
                answer = NodeLs(asked, manager)
            self.answers.append(answer)
            self._stop.wait(max(0.0, self.ls_interval - (time.monotonic() - asked)))

    # --- readings, in run seconds (t0: the run's monotonic start) --------------------------------------
    def first(self, node: str, after: float, t0: float, *, eth0_up: bool | None = None,
              dockerd_alive: bool | None = None) -> float | None:
        """First sample of `node` after `after` (run seconds) with eth0 / dockerd in the given state."""
        for s in self.samples:
            if s.node != node or s.at - t0 <= after:
                continue
            nic_ok = eth0_up is None or s.eth0_up == eth0_up
            if nic_ok and (dockerd_alive is None or s.dockerd_alive == dockerd_alive):
                return s.at - t0
        return None

    def before(self, node: str, t: float, t0: float) -> float | None:
        """The last sample of `node` taken before run second `t`: with `first`, it brackets a change, however
        late a busy machine made the samples (a round of `ip` calls over every node is not free)."""
        last = None
        for s in self.samples:
            if s.node == node and s.at - t0 < t:
                last = s.at - t0
        return last

    def _replay(self, managers: int) -> Iterator[tuple[float, str | None, list[NodeLs]]]:
        """The quorum rule replayed from the CLI's answers: (monotonic time, agreed leader, agreeing answers).

        A manager speaks from the moment its answer arrived; it falls silent from the moment it was asked
        the question it never answered. A leader is agreed when a majority of all managers name it.
        """
        changes = sorted(((a.answered if a.answered is not None else a.asked), a) for a in self.answers)
        latest: dict[str, NodeLs] = {}
        for at, answer in changes:
            if answer.answered is None:
                latest.pop(answer.manager, None)
            else:
                latest[answer.manager] = answer
            votes = Counter(a.leader for a in latest.values() if a.leader is not None)
            top = votes.most_common(1)
            agreed = top[0][0] if top and 2 * top[0][1] > managers else None
            yield at, agreed, [a for a in latest.values() if agreed is not None and a.leader == agreed]

    def majority_views(self, managers: int, t0: float) -> list[MajorityView]:
        """What a majority of managers agreed on over time (run seconds); a new entry at each change."""
        views: list[MajorityView] = []
        for at, agreed, _ in self._replay(managers):
            if not views or views[-1].leader != agreed:
                views.append(MajorityView(at - t0, agreed))
        return views

    def first_majority_status(self, node: str, managers: int, after: float, t0: float,
                              states: set[str]) -> float | None:
        """When a manager of the agreeing majority first showed `node` in one of `states` (run seconds)."""
        for at, _, agreeing in self._replay(managers):
            if at - t0 > after and any(a.status.get(node) in states for a in agreeing):
                return at - t0
        return None


def _parse(asked: float, answered: float, manager: str, text: str) -> NodeLs:
    leader = None
    status: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        status[parts[0]] = parts[1]
        if len(parts) >= 3 and parts[2] == "Leader":
            leader = parts[0]
    return NodeLs(asked, manager, answered, leader, status)
