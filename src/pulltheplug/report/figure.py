"""The timeline figure: requests, latency and node lanes over one shared time axis (plotly).

Names a browser test can find: bar traces `ok` / `fail` / `info`, one trace `lane:<node>` per node (its
swarm state), `fault:<node>` and `leader:<node>` beside it, and shapes named `fault`,
`control-plane`, `leader-change`, `task-move`.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from pulltheplug.report.timeline import Interval, Lane, Timeline

DIV_ID = "timeline"

OUTCOME_COLORS = {"ok": "#2ca02c", "fail": "#d62728", "info": "#ff9f1c"}
STATE_COLORS = {"ready": "#9bd79b", "down": "#d62728", "unknown": "#f2c14e"}
FAULT_COLORS = {"off": "#222222", "nic down": "#7b4fc9", "frozen": "#17becf", "cut off": "#e377c2",
                "lossy": "#bcbd22", "flapping": "#8c564b", "engine down": "#ff7f0e", "task killed": "#d62728"}
LEADER_COLOR = "#c99a00"
TASK_COLOR = "#1f77b4"
FAULT_FILL = "#d62728"
CONTROL_PLANE_FILL = "#5a6b8c"

LOG_TICKS = [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000]
LANE_WIDTH = 0.56
FAULT_WIDTH = 0.2
LEADER_WIDTH = 0.1


def _s(t: float) -> str:
    return f"{t:.2f}s"


def _hover(node: str, iv: Interval) -> str:
    detail = f" ({iv.detail})" if iv.detail and iv.detail != iv.state else ""
    return f"{node}: <b>{iv.state}</b>{detail}<br>{_s(iv.start)} \u2192 {_s(iv.end)} ({_s(iv.end - iv.start)})"


def _lane_bar(name: str, lane: Lane, intervals: list[Interval], colors: dict[str, str], width: float,
              offset: float) -> go.Bar:
    return go.Bar(
        name=name,
        orientation="h",
        y=[lane.node] * len(intervals),
        base=[iv.start for iv in intervals],
        x=[max(iv.end - iv.start, 0.0) for iv in intervals],
        width=width,
        offset=offset,
        marker={"color": [colors.get(iv.state, "#999999") for iv in intervals], "line": {"width": 0}},
        hovertext=[_hover(lane.node, iv) for iv in intervals],
        hovertemplate="%{hovertext}<extra></extra>",
        showlegend=False,
    )


def _legend_chip(name: str, color: str, symbol: str = "square") -> go.Scatter:
    """A legend entry with no points (lanes color each bar, so their traces stay out of the legend)."""
    return go.Scatter(x=[None], y=[None], mode="markers", name=name, hoverinfo="skip",
                      marker={"symbol": symbol, "size": 11, "color": color})


def _request_rows(fig: go.Figure, tl: Timeline) -> None:
    b = tl.bins
    centers = [s + b.width / 2 for s in b.start]
    base = [0] * len(centers)
    for outcome in ("ok", "fail", "info"):
        counts: list[int] = getattr(b, outcome)
        fig.add_trace(go.Bar(name=outcome, x=centers, y=counts, base=list(base), width=b.width,
                             marker={"color": OUTCOME_COLORS[outcome], "line": {"width": 0}},
                             hovertemplate=f"{outcome} %{{y}}<extra>%{{x:.1f}}s</extra>"), row=1, col=1)
        base = [a + c for a, c in zip(base, counts, strict=True)]
    for name, values, dash in (("p50", b.p50_ms, "solid"), ("p99", b.p99_ms, "dot")):
        fig.add_trace(go.Scatter(name=f"latency {name}", x=centers, y=values, mode="lines",
                                 line={"width": 1.4, "dash": dash, "color": "#444" if name == "p50" else "#9467bd"},
                                 connectgaps=False, hovertemplate=f"{name} %{{y:.1f}} ms<extra>%{{x:.1f}}s</extra>"),
                      row=2, col=1)


def _lane_rows(fig: go.Figure, tl: Timeline) -> None:
    for lane in tl.lanes:
        fig.add_trace(_lane_bar(f"lane:{lane.node}", lane, lane.states, STATE_COLORS, LANE_WIDTH,
                                -LANE_WIDTH / 2), row=3, col=1)
        if lane.fault:
            fig.add_trace(_lane_bar(f"fault:{lane.node}", lane, lane.fault, FAULT_COLORS, FAULT_WIDTH,
                                    -FAULT_WIDTH / 2), row=3, col=1)
        if lane.leader:
            fig.add_trace(_lane_bar(f"leader:{lane.node}", lane, lane.leader, {"leader": LEADER_COLOR},
                                    LEADER_WIDTH, LANE_WIDTH / 2 + 0.02), row=3, col=1)
    for state, color in STATE_COLORS.items():
        fig.add_trace(_legend_chip(state, color), row=3, col=1)
    used = {iv.state for lane in tl.lanes for iv in lane.fault}
    for state in sorted(used):
        fig.add_trace(_legend_chip(state, FAULT_COLORS.get(state, "#999999")), row=3, col=1)
    if any(lane.leader for lane in tl.lanes):
        fig.add_trace(_legend_chip("leader", LEADER_COLOR), row=3, col=1)


# A shape from the top of the first row to the bottom of the last, at x on the shared time axis: one shape,
# not one per row (plotly's row="all" helpers cost ~85 ms each, too much for a live page redrawn twice a second)
_ACROSS: dict[str, Any] = {"xref": "x", "yref": "paper", "y0": 0, "y1": 1}

# marker kind -> (legend name, shape name, color, symbol, line dash)
MARKER_STYLE = {
    "leader": ("leader change", "leader-change", LEADER_COLOR, "star", "dash"),
    "task": ("task move", "task-move", TASK_COLOR, "triangle-right", "dot"),
}


def _markers(fig: go.Figure, tl: Timeline) -> None:
    """A vertical line across every row, and a point on the lane of the node concerned (with hover)."""
    lanes = {lane.node for lane in tl.lanes}
    for kind, (name, shape, color, symbol, dash) in MARKER_STYLE.items():
        ms = [m for m in tl.markers if m.kind == kind]
        for m in ms:
            fig.add_shape(type="line", x0=m.t, x1=m.t, **_ACROSS, line={"color": color, "width": 1.2, "dash": dash},
                          name=shape)
        on_lane = [m for m in ms if m.node in lanes]
        if on_lane:
            fig.add_trace(go.Scatter(name=name, x=[m.t for m in on_lane], y=[m.node for m in on_lane],
                                     mode="markers", marker={"symbol": symbol, "size": 13, "color": color,
                                                             "line": {"width": 1, "color": "white"}},
                                     hovertext=[f"{_s(m.t)}: {m.label}" for m in on_lane],
                                     hovertemplate="%{hovertext}<extra></extra>"), row=3, col=1)


def _windows(fig: go.Figure, tl: Timeline, open_label: str) -> None:
    bands = tl.faults if len(tl.faults) > 1 else ([tl.fault] if tl.fault is not None else [])
    for i, f in enumerate(bands):  # a schedule: one band per fault, labels staggered so they do not overlap
        fig.add_shape(type="rect", x0=f.start, x1=f.end, **_ACROSS, fillcolor=FAULT_FILL, opacity=0.09,
                      line_width=0, layer="below", name="fault")
        fig.add_annotation(x=(f.start + f.end) / 2, y=0.99 - 0.12 * (i % 3), xref="x", yref="y domain",
                           yanchor="top", showarrow=False, font={"color": FAULT_FILL, "size": 12},
                           bgcolor="rgba(255,255,255,0.85)",
                           text=f"<b>fault</b> {f.label}" + (f" ({open_label})" if f.open else ""))
    for w in tl.control_plane:
        fig.add_shape(type="rect", x0=w.start, x1=w.end, **_ACROSS, fillcolor=CONTROL_PLANE_FILL, opacity=0.22,
                      line_width=0, layer="below", name="control-plane")
    if tl.control_plane:
        fig.add_trace(_legend_chip("control plane down", CONTROL_PLANE_FILL), row=3, col=1)
    if tl.fault is not None:
        fig.add_trace(_legend_chip("fault", "rgba(214,39,40,0.3)"), row=3, col=1)


def timeline_figure(tl: Timeline, open_label: str = "never reverted") -> go.Figure:
    """`open_label`: what a fault band not yet reverted says (a live run's: "in progress")."""
    lane_height = 34 * max(len(tl.lanes), 1) + 40
    heights = [260, 170, lane_height]
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.05,
                        row_heights=[h / sum(heights) for h in heights],
                        subplot_titles=("requests per 100 ms, by due time", "latency of ok requests (ms, from due)",
                                        "nodes as the managers saw them (stripe: the fault's effect)"))
    _request_rows(fig, tl)
    _lane_rows(fig, tl)
    _markers(fig, tl)
    _windows(fig, tl, open_label)
    nodes = [lane.node for lane in tl.lanes]
    fig.update_layout(
        template="plotly_white",
        barmode="overlay",
        bargap=0,
        height=sum(heights) + 170,
        margin={"l": 70, "r": 20, "t": 60, "b": 50},
        hovermode="closest",
        legend={"orientation": "h", "yanchor": "top", "y": -0.06, "x": 0, "font": {"size": 12}},
        font={"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12},
    )
    fig.update_xaxes(range=[0, max(tl.end, tl.bins.width)], showspikes=True, spikemode="across",
                     spikethickness=1, spikecolor="#888", spikedash="solid")
    fig.update_xaxes(title_text="seconds since run start", row=3, col=1)
    fig.update_yaxes(title_text="requests", rangemode="tozero", row=1, col=1)
    fig.update_yaxes(title_text="ms", type="log", tickvals=LOG_TICKS, ticktext=[f"{v:g}" for v in LOG_TICKS],
                     row=2, col=1)
    for title in fig.layout.annotations[:3]:  # the subplot titles, left-aligned out of the fault label's way
        title.update(x=0, xanchor="left", font={"size": 13, "color": "#333"})
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=list(reversed(nodes)),
                     range=[-0.6, len(nodes) - 0.4], fixedrange=True, row=3, col=1)
    return fig


def figure_div(fig: go.Figure, div_id: str = DIV_ID) -> str:
    """The figure as a <div> with id `div_id` (`timeline`); plotly.js itself is embedded once by the page."""
    config: dict[str, Any] = {"displaylogo": False, "responsive": True,
                              "toImageButtonOptions": {"filename": f"pulltheplug-{div_id}"}}
    html: str = fig.to_html(include_plotlyjs=False, full_html=False, div_id=div_id, config=config)
    return html
