"""The curve of worst availability against window size (Hauer et al., "Meaningful Availability", NSDI 2020):
short windows show how deep a failure went, long ones how much of it a user would notice over a session.

Names a browser test can find: one line trace `all entries`, then one per entry point, in the div `windowed`.
"""

from __future__ import annotations

import plotly.graph_objects as go

from pulltheplug.analysis.windowed import WindowedAvailability, window_label

DIV_ID = "windowed"
ALL_COLOR = "#1d2329"


def windowed_figure(overall: list[WindowedAvailability], by_entry: dict[str, list[WindowedAvailability]]) -> go.Figure:
    """Worst availability (percent) per window size on a log axis; a size without a judged window is a gap."""
    fig = go.Figure()
    lines = [("all entries", overall, {"color": ALL_COLOR, "width": 3})]
    lines += [(entry, figures, {"width": 1.5}) for entry, figures in by_entry.items()]
    for name, figures, line in lines:
        fig.add_trace(go.Scatter(
            name=name, x=[f.window_s for f in figures],
            y=[None if f.worst is None else 100 * f.worst for f in figures],
            mode="lines+markers", line=line, connectgaps=False,
            hovertext=[_hover(name, f) for f in figures], hovertemplate="%{hovertext}<extra></extra>",
            visible=True if name == "all entries" or len(by_entry) <= 6 else "legendonly"))
    ticks = [f.window_s for f in overall]
    fig.update_layout(
        template="plotly_white", height=340, margin={"l": 70, "r": 20, "t": 20, "b": 50}, hovermode="closest",
        legend={"orientation": "h", "yanchor": "top", "y": -0.2, "x": 0},
        font={"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12})
    fig.update_xaxes(type="log", title_text="window size", tickvals=ticks, ticktext=[window_label(w) for w in ticks])
    fig.update_yaxes(title_text="worst availability (%)", rangemode="tozero", range=[0, 101])
    return fig


def _hover(name: str, f: WindowedAvailability) -> str:
    if f.worst is None or f.start is None or f.end is None:
        return f"{name}, {window_label(f.window_s)}: no window held {f.min_requests} requests"
    return (f"{name}, {window_label(f.window_s)} windows: worst <b>{100 * f.worst:.2f}%</b><br>"
            f"{f.start:.2f}s \u2192 {f.end:.2f}s: {f.failed} of {f.requests} failed")

