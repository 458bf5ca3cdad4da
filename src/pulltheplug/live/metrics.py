"""The run's figures as Prometheus metrics: scraped live (`--metrics-port`), or a finished run exported
with timestamps (`report --format openmetrics`) for `promtool tsdb create-blocks-from openmetrics`.

Both come from one `LiveState`: live, as the records are followed; exported, by replaying the records in
the order they happened and taking the state every `step` seconds. Every series carries `run` (the run
folder's name), so runs of a campaign stay apart in Grafana.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections.abc import Callable, Iterable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_text
from prometheus_client.registry import Collector, CollectorRegistry

from pulltheplug.live.state import LATENCY_BUCKETS, OUTCOMES, LiveState
from pulltheplug.records.events import event_to_dict
from pulltheplug.records.model import NOT_SENT, RequestRecord, Run, request_to_dict

NODE_STATES = ("ready", "down", "unknown", "disconnected")
PHASES = ("starting", "steady", "fault", "recovery", "end")
PREFIX = "pulltheplug"


def families(state: LiveState, run: str, now: float, timestamp: float | None = None) -> list[Metric]:
    """The metric families of `state` at run time `now` (each sample stamped `timestamp`, epoch seconds,
    when given: an export; none when scraped)."""
    ts = timestamp
    requests = CounterMetricFamily(f"{PREFIX}_requests", "Requests by entry point and outcome (ok, fail, info: "
                                   "Jepsen's; not_sent: the run stopped before it could send)",
                                   labels=["run", "entry", "outcome"])
    errors = CounterMetricFamily(f"{PREFIX}_request_errors", "Failed or unknown requests by error kind",
                                 labels=["run", "entry", "error"])
    latency = HistogramMetricFamily(f"{PREFIX}_request_latency_seconds",
                                    "Latency of ok requests, from when each was due (open loop)",
                                    labels=["run", "entry"])
    for entry, e in sorted(state.entries.items()):
        for outcome in (*OUTCOMES, NOT_SENT):
            requests.add_metric([run, entry, outcome], e.outcomes[outcome], timestamp=ts)
        for kind, n in sorted(e.errors.items()):
            errors.add_metric([run, entry, kind], n, timestamp=ts)
        cumulative = e.cumulative()
        buckets = [(f"{b:g}", float(c)) for b, c in zip(LATENCY_BUCKETS, cumulative, strict=True)]
        latency.add_metric([run, entry], [*buckets, ("+Inf", float(e.outcomes["ok"]))], e.latency_sum,
                           timestamp=ts)
    node_state = GaugeMetricFamily(f"{PREFIX}_node_state", "1 for the state the managers give the node now",
                                   labels=["run", "node", "state"])
    leader = GaugeMetricFamily(f"{PREFIX}_leader", "1 for the node that leads the swarm now", labels=["run", "node"])
    tasks = GaugeMetricFamily(f"{PREFIX}_node_tasks", "Running tasks of the service under load on the node",
                              labels=["run", "node"])
    on = state.tasks_on()
    for node, now_ in sorted(state.nodes.items()):
        for s in NODE_STATES:
            node_state.add_metric([run, node, s], float(now_.state == s), timestamp=ts)
        leader.add_metric([run, node], float(node == state.leader), timestamp=ts)
        tasks.add_metric([run, node], float(on.get(node, 0)), timestamp=ts)
    fault = GaugeMetricFamily(f"{PREFIX}_fault_active", "1 while the fault holds the node (inject to reverted)",
                              labels=["run", "fault", "kind", "node"])
    for fid, f in sorted(state.faults.items()):
        for node in f.nodes:
            fault.add_metric([run, str(fid), f.kind, node], float(f.state != "reverted"), timestamp=ts)
    out: list[Metric] = [requests, errors, latency, node_state, leader, tasks, fault]
    if state.control_plane is not None:
        cp = GaugeMetricFamily(f"{PREFIX}_control_plane_available", "1 while a majority of managers answer and "
                               "agree on a leader", labels=["run"])
        cp.add_metric([run], float(state.control_plane), timestamp=ts)
        out.append(cp)
    outage = state.open_outage(now)
    open_ = GaugeMetricFamily(f"{PREFIX}_open_outage_seconds", "How long the outage still open has lasted "
                              "(0: none)", labels=["run"])
    open_.add_metric([run], outage[1] if outage else 0.0, timestamp=ts)
    worst = state.worst_window(now)
    window = GaugeMetricFamily(f"{PREFIX}_worst_window_availability", "The worst ok / sent over any 1 s window "
                               "of due time settled so far (the summary's worst 1 s window; absent until one "
                               "window holds 20 requests)", labels=["run", "window"])
    if worst is not None:
        window.add_metric([run, "1s"], worst[0], timestamp=ts)
    error_seconds = GaugeMetricFamily(f"{PREFIX}_error_seconds", "1 s bins of due time with at least one failed "
                                      "request so far", labels=["run"])
    error_seconds.add_metric([run], float(state.windows.error_seconds), timestamp=ts)
    phase = GaugeMetricFamily(f"{PREFIX}_phase", "1 for the run's phase now", labels=["run", "phase"])
    for p in PHASES:
        phase.add_metric([run, p], float(state.phase.name == p), timestamp=ts)
    clock = GaugeMetricFamily(f"{PREFIX}_run_seconds", "Seconds since the run started", labels=["run"])
    clock.add_metric([run], now, timestamp=ts)
    return [*out, open_, window, error_seconds, phase, clock]


class StateCollector(Collector):
    """What a scrape sees: the followed run's state now (nothing before the first run begins)."""

    def __init__(self, current: Callable[[], tuple[LiveState, str, float] | None]) -> None:
        self.current = current

    def collect(self) -> Iterator[Metric]:
        got = self.current()
        if got is not None:
            yield from families(*got)


def registry_of(current: Callable[[], tuple[LiveState, str, float] | None]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StateCollector(current))
    return registry


def _requests(run: Run) -> list[RequestRecord]:
    return run.columns.records() if run.columns is not None else run.requests


def _history(run: Run, requests: list[RequestRecord]) -> Iterator[tuple[float, str, dict[str, object]]]:
    """Every record at the moment it became known: a request when it ended, an event at its time."""
    reqs = sorted(((r.end, "request", request_to_dict(r)) for r in requests), key=lambda x: x[0])
    evs = sorted(((e.t, "event", event_to_dict(e)) for e in run.events), key=lambda x: x[0])
    return heapq.merge(reqs, evs, key=lambda x: x[0])


def replay(run: Run, step: float = 1.0) -> Iterator[tuple[float, LiveState]]:
    """The run's state at every `step` seconds of its clock, and once at the end (the same object, updated)."""
    state = LiveState(run.meta, timeline=False)  # the export draws no timeline
    requests = _requests(run)  # made once: from columns, each is a new object
    end = max(run.meta.phases.get("end", 0.0), max((r.end for r in requests), default=0.0),
              max((e.t for e in run.events), default=0.0))
    history = _history(run, requests)
    pending = next(history, None)
    t = 0.0
    while True:
        while pending is not None and pending[0] <= t:
            _, kind, d = pending
            state.add_request(d) if kind == "request" else state.add_event(d)
            pending = next(history, None)
        yield t, state
        if t >= end:
            return
        t = min(t + step, end)


def openmetrics_of(run: Run, step: float = 1.0) -> str:
    """The run's series in the OpenMetrics text format, one point every `step` s, stamped with wall time."""
    start = dt.datetime.fromisoformat(run.meta.started_at).timestamp()
    merged: dict[str, Metric] = {}
    for t, state in replay(run, step):
        for fam in families(state, run.folder.name, t, timestamp=start + t):
            if fam.name not in merged:
                merged[fam.name] = Metric(fam.name, fam.documentation, fam.type, fam.unit)
            merged[fam.name].samples.extend(fam.samples)
    for fam in merged.values():  # each series' points together, in time order (OpenMetrics asks it)
        fam.samples.sort(key=lambda s: (_series_key(s.labels), s.timestamp or 0.0, _suffix_order(s.name, fam.name),
                                        _le(s.labels)))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed(list(merged.values())))
    text: bytes = openmetrics_text(registry)  # type: ignore[no-untyped-call]
    return text.decode()


def _series_key(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in labels.items() if k != "le"))


def _suffix_order(sample: str, family: str) -> int:
    return {"_bucket": 0, "_count": 1, "_sum": 2}.get(sample[len(family):], 0)


def _le(labels: dict[str, str]) -> float:
    return float(labels.get("le", "0").replace("+Inf", "inf"))


class _Fixed(Collector):
    def __init__(self, fams: Iterable[Metric]) -> None:
        self.fams = list(fams)

    def collect(self) -> Iterator[Metric]:
        yield from self.fams
