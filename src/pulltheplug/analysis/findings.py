"""Findings: what went wrong in a run, said in words with the records it rests on, the way a reviewer would.

Each rule is a small checker in Jepsen's sense: a pure function of the history (here, the summary's figures
and the events) that says found, not found or unknown (the records cannot tell), with its evidence: the
times on the run clock, the nodes, the request ranges (first and last k of a window) and the event ids
(their ids, `seq` in events.jsonl). Rules never guess: where the history lacks what a rule needs, it is unknown.

The cluster's own clock for detection comes from swarmkit: a node that misses its heartbeats is marked Down
after about GRACE heartbeat periods (5 s by default; a run's `swarm.dispatcher_heartbeat` changes it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

from pulltheplug.analysis.control_plane import ControlPlaneWindow
from pulltheplug.analysis.node_loss import is_back, is_lost
from pulltheplug.analysis.outages import ALL, OutageWindow
from pulltheplug.analysis.timings import Detection, Recovery
from pulltheplug.records.events import (
    ControlPlaneEvent,
    E,
    Event,
    FaultEvent,
    LeaderEvent,
    NodeEvent,
    TaskEvent,
    of_type,
)
from pulltheplug.records.model import Meta
from pulltheplug.spec import FindingRule

Verdict = Literal["found", "not found", "unknown"]
Severity = Literal["high", "warning", "info"]

DEFAULT_HEARTBEAT = 5.0  # s: swarmkit's dispatcher heartbeat period
GRACE = 3  # heartbeat periods a node may miss before the managers mark it Down
JITTER = 1  # one more period: a node's heartbeats are spread over the period
DETECTABLE = frozenset({"nic-down", "power-loss", "reboot", "freeze", "engine-crash", "partition"})
RECONNECTS = frozenset({"nic-down", "freeze", "partition"})  # the node comes back without a boot
STOPPED = frozenset({"shutdown", "failed", "rejected", "orphaned", "complete"})  # task states of a task that ended
POLL_SKEW = 1.0  # s: the observer reads the leader and the control plane's availability in separate polls
_CLAIM = re.compile(r"(\S+) \(says leader (\S+)\)")
RULES: tuple[str, ...] = get_args(FindingRule)


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    verdict: Verdict
    severity: Severity
    text: str  # one sentence
    start: float | None = None  # run seconds
    end: float | None = None
    nodes: list[str] = field(default_factory=list)
    requests: list[list[int]] = field(default_factory=list)  # [first k, last k] of each window it rests on
    events: list[int] = field(default_factory=list)  # the ids (`seq`) of the events it rests on

    @property
    def found(self) -> bool:
        return self.verdict == "found"


@dataclass(frozen=True, slots=True)
class FaultScope:
    """One fault of a schedule, for the rules to judge alone: its kind and target node, and `until`, the moment
    the history stops speaking of it (the next fault's start, or the run's end); events after it are not read."""

    kind: str
    node: str
    until: float


@dataclass(frozen=True, slots=True)
class History:
    """What the rules read: the run's meta and events (in file order) and the summary's figures.

    `scope` None: the run's one fault, from Meta.fault; else one fault of a schedule, with that fault's start,
    revert and figures in the fields above.
    """

    meta: Meta
    events: Sequence[Event]
    fault_start: float | None
    revert: float | None
    end: float
    outages: Sequence[OutageWindow]
    control_plane: Sequence[ControlPlaneWindow]
    detect: Detection
    recover: Recovery
    warnings: Sequence[str]
    # outage window index -> when its entry answered again before it (request_figures.answered_before): only
    # a window whose entry was back first is a new outage rather than the tail of the last one
    answered: Mapping[int, float]
    scope: FaultScope | None = None

    @property
    def node(self) -> str | None:
        node = self.scope.node if self.scope is not None else self.meta.fault.get("node")
        return str(node) if node else None

    @property
    def kind(self) -> str | None:
        kind = self.scope.kind if self.scope is not None else self.meta.fault.get("kind")
        return str(kind) if kind else None

    def speaks_of(self, t: float) -> bool:
        """Whether a moment is within what the rules read (all of it, unless scoped to one fault)."""
        return self.scope is None or t <= self.scope.until

    @property
    def heartbeat(self) -> float:
        applied = self.meta.cluster.get("swarm_settings") or {}
        beat = applied.get("dispatcher_heartbeat") if isinstance(applied, dict) else None
        return float(beat) if isinstance(beat, int | float) and beat > 0 else DEFAULT_HEARTBEAT

    def of(self, model: type[E]) -> list[E]:
        """The events of one model the rules read, by time."""
        return [e for e in of_type(self.events, model) if self.speaks_of(e.t)]


def _not(rule: str, severity: Severity, text: str) -> Finding:
    return Finding(rule, "not found", severity, text)


def _unknown(rule: str, severity: Severity, text: str) -> Finding:
    return Finding(rule, "unknown", severity, text)


def _nodes_of(windows: Sequence[OutageWindow]) -> list[str]:
    return sorted({w.entry for w in windows if w.entry != ALL})


def _ended(e: TaskEvent) -> bool:
    """A task event saying Swarm ended the task (it is not to run again)."""
    return e.state in STOPPED and not e.wanted_running


def _touched(h: History) -> set[str]:
    """The nodes the faults acted on: the target and every node a fault event names (a quorum loss, a
    partition and a schedule act on several)."""
    touched = {h.node} if h.node else set()
    for e in h.of(FaultEvent):
        touched |= {n for n in (e.node, *e.nodes) if n}
    return touched


def _leader_at_revert_until(h: History, revert: float) -> float:
    """Until when a leader change is the control plane's recovery, not a new disturbance: the end (plus the
    skew between the observer's two polls) of a window without a leader that was open at the revert."""
    open_then = [w.end for w in h.control_plane if w.start <= revert <= w.end and h.speaks_of(w.start)]
    return max(open_then) + POLL_SKEW if open_then else revert


def aftershock(h: History) -> Finding:
    """An outage, a control-plane window, a leader change or a task move that starts after the revert.

    The cluster's recovery from the fault itself is not an aftershock: an outage window of an entry that had
    not answered again since its last one (a restarting task holds its first connections and answers some of
    them late, which splits one outage in two), the leader elected to end a window without one that was open
    at the revert, a task started on a faulted node (it replaces what the fault took), and a task the fault
    killed (a power loss, a reboot) that the returning node reports as failed."""
    rule = "aftershock"
    sev: Severity = "warning"
    if h.revert is None:
        return _unknown(rule, sev, "the fault was never reverted, so nothing can come after its revert")
    revert = h.revert
    touched = _touched(h)
    windows = [w for i, w in enumerate(h.outages) if w.start > revert and i in h.answered and h.speaks_of(w.start)]
    planes = [w for w in h.control_plane if w.start > revert and h.speaks_of(w.start)]
    recovered = _leader_at_revert_until(h, revert)
    leaders = [e for e in h.of(LeaderEvent) if e.t > recovered and e.node and e.previous and e.node != e.previous]
    tasks = h.of(TaskEvent)
    ran_before = {e.task for e in tasks if e.t <= revert and e.state == "running"}
    survived = h.kind in RECONNECTS  # the containers of a node that only lost touch still run

    def move(e: TaskEvent) -> bool:
        if e.t <= revert:
            return False
        on_touched = e.node in touched
        if e.state == "running":
            return e.task not in ran_before and not on_touched
        return _ended(e) and e.task in ran_before and (survived or not on_touched)

    moves = [e for e in tasks if move(e)]
    if not (windows or planes or leaders or moves):
        return _not(rule, sev, "nothing was disturbed after the revert")
    marks: list[LeaderEvent | TaskEvent] = [*leaders, *moves]
    starts = [w.start for w in windows] + [w.start for w in planes] + [e.t for e in marks]
    ends = [w.end for w in windows] + [w.end for w in planes] + [e.t for e in marks]
    what = [f"{len(windows)} outage window(s)" if windows else "", f"{len(planes)} control-plane window(s)"
            if planes else "", f"{len(leaders)} leader change(s)" if leaders else "",
            f"{len(moves)} task(s) started or stopped" if moves else ""]
    nodes = sorted(set(_nodes_of(windows)) | {str(e.node) for e in marks})
    first = min(starts)
    return Finding(rule, "found", sev,
                   f"the node's return disturbed the cluster again: {', '.join(x for x in what if x)}, the first "
                   f"{first - revert:.1f} s after the revert", first, max(ends), nodes,
                   [[w.first_k, w.last_k] for w in windows], sorted(e.seq for e in marks))


def collateral(h: History) -> Finding:
    """Failures on an entry point of a node the fault did not touch, or tasks that stopped on such a node."""
    rule = "collateral"
    sev: Severity = "high"
    node, start = h.node, h.fault_start
    if node is None or start is None:
        return _unknown(rule, sev, "no fault on one node: nothing to call collateral")
    names = {str(n.get("name")) for n in h.meta.cluster.get("nodes", []) if isinstance(n, dict)}
    touched = _touched(h)
    if not names or not set(h.meta.entries) <= names:
        return _unknown(rule, sev, "the entry points are not named for nodes (a front door), so a failure "
                        "cannot be put on a node")
    windows = [w for w in h.outages if w.entry in names - touched and w.end > start and h.speaks_of(w.start)]
    stopped = [e for e in h.of(TaskEvent) if e.t >= start and e.node in names - touched and _ended(e)]
    if not windows and not stopped:
        return _not(rule, sev, f"only {', '.join(sorted(touched))} suffered")
    nodes = sorted(set(_nodes_of(windows)) | {e.node for e in stopped})
    times = [w.start for w in windows] + [e.t for e in stopped]
    return Finding(rule, "found", sev,
                   f"nodes the fault did not touch suffered: {', '.join(nodes)} ({len(windows)} outage window(s), "
                   f"{len(stopped)} task(s) stopped)", min(times),
                   max([w.end for w in windows] + [e.t for e in stopped]), nodes,
                   [[w.first_k, w.last_k] for w in windows], [e.seq for e in stopped])


def _expected_detection(h: History) -> float:
    return h.heartbeat * (GRACE + JITTER)


def _arithmetic(h: History) -> str:
    """How `_expected_detection` is reckoned, in the words a finding gives."""
    return f"heartbeat {h.heartbeat:g} s x {GRACE} missed, plus one of jitter"


def _beats(h: History) -> str:
    """`_arithmetic` in short, as a rule that found nothing says it."""
    return f"heartbeat {h.heartbeat:g} s x {GRACE + JITTER}"


def never_detected(h: History) -> Finding:
    rule = "never-detected"
    sev: Severity = "warning"
    if h.kind not in DETECTABLE or h.node is None or h.fault_start is None:
        return _unknown(rule, sev, f"a {h.kind or 'no'} fault need not make the managers lose a node")
    lasted = (h.revert if h.revert is not None else h.end) - h.fault_start
    bound = _expected_detection(h)
    if h.detect.node_lost_after_fault_start is not None:
        return _not(rule, sev, f"{h.node} was seen lost {h.detect.node_lost_after_fault_start:.1f} s after the "
                    "fault start")
    after = _lost_after_revert(h)
    if lasted < bound:
        return _not(rule, sev, f"{h.node} was not seen lost during the fault, which lasted {lasted:.1f} s, less than "
                    f"the {bound:.0f} s the managers may take ({_beats(h)}): not seeing it is expected{after}")
    return Finding(rule, "found", sev,
                   f"{h.node} was not seen lost during the fault though it lasted {lasted:.1f} s, past the "
                   f"{bound:.0f} s the managers take ({_arithmetic(h)}){after}",
                   h.fault_start, h.fault_start + lasted, [h.node])


def _lost_after_revert(h: History) -> str:
    """What happened after the revert to a node not seen lost during the fault, as a clause (empty: nothing)."""
    late = h.detect.node_lost_after_revert
    return "" if late is None else f"; it was seen lost only {late:.1f} s after the revert, which is no detection"


def slow_detection(h: History) -> Finding:
    rule = "slow-detection"
    sev: Severity = "warning"
    lost = h.detect.node_lost_after_fault_start
    if h.kind not in DETECTABLE or h.node is None or h.fault_start is None:
        return _unknown(rule, sev, "no detection to time")
    if lost is None:
        return _unknown(rule, sev, f"no detection to time: {h.node} was not seen lost during the fault"
                        f"{_lost_after_revert(h)}")
    bound = _expected_detection(h)
    if lost <= bound:
        return _not(rule, sev, f"{h.node} was seen lost after {lost:.1f} s, within {bound:.0f} s ({_beats(h)})")
    numbered = [e.seq for e in h.of(NodeEvent) if e.node == h.node
                and is_lost(e.state) and abs(e.t - (h.fault_start + lost)) < 1e-6]
    return Finding(rule, "found", sev,
                   f"{h.node} was seen lost {lost:.1f} s after the fault start, later than the {bound:.0f} s its "
                   f"heartbeat implies ({_arithmetic(h)})",
                   h.fault_start, h.fault_start + lost, [h.node], [], numbered[:1])


def slow_recovery(h: History) -> Finding:
    """The node Ready later than a reconnect needs: one heartbeat to report, one of jitter (no boot involved)."""
    rule = "slow-recovery"
    sev: Severity = "warning"
    ready = h.recover.node_ready_after_revert
    if h.kind not in RECONNECTS or h.node is None or h.revert is None or ready is None:
        return _unknown(rule, sev, "no reconnect without a boot to time")
    bound = h.heartbeat * 2
    if ready <= bound:
        return _not(rule, sev, f"{h.node} was Ready {ready:.1f} s after the revert, within {bound:.0f} s")
    return Finding(rule, "found", sev,
                   f"{h.node} was Ready only {ready:.1f} s after the revert, where one heartbeat ({h.heartbeat:g} s) "
                   f"and one of jitter ({bound:.0f} s) should do", h.revert, h.revert + ready, [h.node])


def not_restored(h: History) -> Finding:
    """Replicas below the desired count at the end, or tasks still pending."""
    rule = "not-restored"
    sev: Severity = "high"
    tasks = h.of(TaskEvent)
    if not tasks:
        return _unknown(rule, sev, "no task was observed")
    last = {e.task: e for e in tasks}
    running = [e for e in last.values() if e.state == "running"]
    pending = [e for e in last.values()
               if e.state in ("pending", "assigned", "accepted", "preparing", "starting") and e.wanted_running]
    replicas = h.meta.workload.get("replicas")
    short = isinstance(replicas, int) and not isinstance(replicas, bool) and len(running) < replicas
    if not short and not pending:
        return _not(rule, sev, f"{len(running)} task(s) running at the end, none pending")
    said = [f"{len(running)} of {replicas} replicas running" if short else "",
            f"{len(pending)} task(s) still pending" if pending else ""]
    return Finding(rule, "found", sev, f"the service was not whole at the end: {', '.join(x for x in said if x)}",
                   h.end, h.end, sorted({e.node for e in pending if e.node}), [],
                   [e.seq for e in pending] or [max(e.seq for e in tasks)])


def split_view(h: History) -> Finding:
    """Two managers naming different leaders at the same time: the observer asks every manager on its own and,
    while no majority agrees, the control_plane event says who claims whom ("m1 (says leader n1), ...")."""
    rule = "split-view"
    sev: Severity = "high"
    split: list[tuple[ControlPlaneEvent, set[str]]] = []
    for e in h.of(ControlPlaneEvent):
        claims = {leader for _, leader in _CLAIM.findall(e.error or "") if leader != "None"}
        before = h.scope is not None and h.fault_start is not None and e.t < h.fault_start  # another fault's
        if not e.available and len(claims) > 1 and not before:
            split.append((e, claims))
    if not split:
        return _not(rule, sev, "no two managers named different leaders at once")
    leaders = sorted(set().union(*(c for _, c in split)))
    return Finding(rule, "found", sev, f"managers named different leaders at the same time: {', '.join(leaders)}",
                   split[0][0].t, split[-1][0].t, leaders, [], [e.seq for e, _ in split])


def flapping(h: History) -> Finding:
    """The faulted node lost (`node_loss`) more than once for one fault (a flap fault does that on purpose: info).

    Only a loss after a return is a new one: Unknown is neither (a newly elected leader says it of everyone)."""
    rule = "flapping"
    sev: Severity = "info" if h.kind == "flap" else "warning"
    if h.node is None or h.fault_start is None:
        return _unknown(rule, sev, "no fault on one node")
    losses: list[NodeEvent] = []
    lost = False
    for e in h.of(NodeEvent):
        if e.node != h.node or e.t < h.fault_start:
            continue
        state = e.state
        if is_lost(state) and not lost:
            losses.append(e)
            lost = True
        elif is_back(state):
            lost = False
    if len(losses) <= 1:
        return _not(rule, sev, f"{h.node} was lost {len(losses)} time(s)")
    return Finding(rule, "found", sev, f"{h.node} went Down and back {len(losses)} times for one fault",
                   losses[0].t, losses[-1].t, [h.node], [], [e.seq for e in losses])


def unsound(h: History) -> Finding:
    rule = "unsound-measurement"
    sev: Severity = "high"
    if not h.warnings:
        return _not(rule, sev, "the baseline was healthy and the client kept its schedule")
    return Finding(rule, "found", sev, "; ".join(h.warnings))


CHECKERS = (aftershock, collateral, never_detected, slow_detection, slow_recovery, not_restored, split_view,
            flapping, unsound)
# one fault of a schedule: every rule but the run's own (the service whole at the end, the baseline)
FAULT_CHECKERS = tuple(c for c in CHECKERS if c not in (not_restored, unsound))


def findings(h: History) -> list[Finding]:
    """Every rule's answer, in RULES order (for one fault of a schedule, the FAULT_CHECKERS' answers)."""
    return [check(h) for check in (CHECKERS if h.scope is None else FAULT_CHECKERS)]
