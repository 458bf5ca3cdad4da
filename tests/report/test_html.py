"""report.html: self-contained (no network), with the run's facts, the timeline div and tables."""

from __future__ import annotations

import re
from pathlib import Path

from pulltheplug.analysis import summarize
from pulltheplug.analysis.results import results_of
from pulltheplug.records.folder import load_run
from pulltheplug.records.model import NOT_SENT, RequestRecord, Run
from pulltheplug.report import REPORT, write_html
from tests.analysis.history import run, stream
from tests.analysis.test_windowed import round_robin_door
from tests.report.synthetic import PASSING_SLOS, synthetic_run, write_run

REMOTE = re.compile(r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*[\"']?(?:https?:)?//", re.I)


def _render(tmp_path: Path, **kwargs: object) -> str:
    folder = write_run(tmp_path / "run", synthetic_run(**kwargs))  # type: ignore[arg-type]
    run = load_run(folder)
    summary, slos = results_of(run)
    path = write_html(run, summary, slos)
    assert path == folder / REPORT
    return path.read_text()


def test_report_is_offline_and_self_contained(tmp_path: Path) -> None:
    html = _render(tmp_path)
    assert not REMOTE.search(html)
    assert "@import" not in html
    assert "Plotly.newPlot" in html and len(html) > 1_000_000  # plotly.js is inline
    assert 'id="timeline"' in html


def test_report_shows_cluster_load_fault_and_verdict(tmp_path: Path) -> None:
    html = _render(tmp_path)
    for text in ("27.5.1", "10.77.0.13", "ptp-probe:latest", "100 req/s requested", "nic-down",
                 "eth0_up", "max_outage 20.010s &gt; 5s", "ReadTimeout", "leader node3 \u2192 node1"):
        assert text in html, text
    assert 'id="verdict">FAIL<' in html
    assert "INTERRUPTED" not in html


def test_each_time_names_the_moment_it_is_measured_from(tmp_path: Path) -> None:
    html = _render(tmp_path)
    timings = html[html.index('id="timings"'):]
    timings = timings[:timings.index("</table>")]
    for text in ("node lost (Down / Disconnected) during the fault, after fault start", "new leader, after fault start",
                 "node Ready, after revert", "requests healthy, after fault start"):
        assert text in timings, text


def test_latency_table_shows_all_requests_and_ok_ones_with_their_timeouts(tmp_path: Path) -> None:
    html = _render(tmp_path)
    table = html[html.index('<table id="latency">'):]
    table = table[:table.index("</table>")]
    summary, _ = results_of(synthetic_run())
    every, ok = summary.latency_all["overall"], summary.latency_ok["overall"]
    assert every is not None and ok is not None and every.timeouts > 0
    assert f'<td>all requests</td><td class="l">overall</td><td>{every.count}</td><td>{every.timeouts}</td>' in table
    assert f'<td>ok requests</td><td class="l">overall</td><td>{ok.count}</td><td>0</td>' in table
    assert "client lag" in table


def test_interrupted_run_has_a_banner_and_fails_even_when_its_slos_hold(tmp_path: Path) -> None:
    html = _render(tmp_path, slo=PASSING_SLOS, interrupted_at=35.0)
    assert 'id="banner"' in html
    assert "<strong>INTERRUPTED</strong>" in html
    assert 'id="verdict">FAIL<' in html and "run interrupted: stopped at 35." in html


def test_requests_never_sent_are_counted_in_the_report(tmp_path: Path) -> None:
    made = synthetic_run(interrupted_at=35.0)
    last = made.requests[-1]
    made.requests += [RequestRecord(k=last.k + 1 + i, due=last.due + (i + 1) / 100, sent=None, end=35.0,
                                    target="node1", outcome="fail", error=NOT_SENT) for i in range(4)]
    run = load_run(write_run(tmp_path / "run", made))
    html = write_html(run, *results_of(run)).read_text()
    assert re.search(r'id="not-sent"[^>]*>not sent 4<', html)


def test_a_run_cut_short_before_any_record_still_renders(tmp_path: Path) -> None:
    made = synthetic_run(interrupted_at=35.0)
    made.requests, made.events, made.meta.cluster = [], [], {}
    folder = write_run(tmp_path / "empty", made)
    run = load_run(folder)
    html = write_html(run, *results_of(run)).read_text()
    assert "<strong>INTERRUPTED</strong>" in html and 'id="timeline"' in html


def test_a_lost_ssh_session_is_listed_with_the_fault_steps() -> None:
    from pulltheplug.records.events import event
    from pulltheplug.report.html import fault_steps

    run = synthetic_run()
    run.events.extend([event(10.4, "session", {"host": "node2", "state": "lost", "reason": "Keepalive timeout"}),
                       event(31.2, "session", {"host": "node2", "state": "back", "reason": "reconnected"})])
    steps = [(s.t, s.action, s.evidence) for s in fault_steps(run)]
    assert (10.4, "SSH session to node2 lost", "Keepalive timeout") in steps
    assert (31.2, "SSH session to node2 back", "reconnected") in steps
    assert [t for t, _, _ in steps] == sorted(t for t, _, _ in steps)


def _render_run(tmp_path: Path, run: Run) -> str:
    summary = summarize(run)
    return write_html(run, summary, [], tmp_path / "report.html").read_text()


def _table(html: str, table_id: str) -> str:
    part = html[html.index(f'id="{table_id}"'):]
    return part[:part.index("</table>")]


def test_the_worst_windows_are_a_table_and_a_curve_per_entry(tmp_path: Path) -> None:
    html = _render_run(tmp_path, run(stream(200.0, 30.0, fail=_node3_then_all)))
    assert 'id="windowed"' in html and 'id="worst-1s"' in html and 'id="error-seconds"' in html
    rows = re.findall(r"<tr><td>([^<]+)</td><td><b>([^<]+)</b>", _table(html, "windowed-table"))
    assert rows[:3] == [("1s", "50.00%"), ("10s", "88.35%"), ("60s", "\u2013")]
    assert ("error seconds", "3") in rows
    one_second = _table(html, "windowed-table").split("<tr>")[2]
    assert re.findall(r"<td>([\d.]+%|\u2013)</td>", one_second) == ["50.00%", "48.48%", "0.00%"]  # node1..3
    assert "12.01s &rarr; 14.00s" in _table(html, "windowed-table")  # the degraded span, from the fault start on
    curve = html[html.index('getElementById("windowed")'):]
    curve = curve[:curve.index("</script>")]
    for name in ("all entries", "node1", "node2", "node3"):
        assert f'"name":"{name}"' in curve, name


def test_every_id_in_the_report_is_unique(tmp_path: Path) -> None:
    """Duplicate ids are invalid HTML: getElementById and `#id` selectors (scripts/screenshots.py) take the first."""
    html = _render_run(tmp_path, run(stream(200.0, 30.0, fail=_node3_then_all)))
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert "windowed" in ids and "windowed-table" in ids
    assert sorted({i for i in ids if ids.count(i) > 1}) == []


def test_outage_windows_are_per_entry_by_start_with_every_entry_down_apart(tmp_path: Path) -> None:
    html = _render_run(tmp_path, run(stream(200.0, 30.0, fail=_node3_then_all)))
    per_entry = _table(html, "outages")
    starts = [float(x) for x in re.findall(r"<tr><td>node\d</td><td>([\d.]+)s</td>", per_entry)]
    assert len(starts) == 4 and starts == sorted(starts)
    assert ">all<" not in per_entry
    assert re.search(r"<tr><td>20\.000s</td><td>20\.500s</td>", _table(html, "outages-all"))


def test_one_entry_has_no_every_entry_down_table(tmp_path: Path) -> None:
    html = _render_run(tmp_path, run(round_robin_door()))
    assert 'id="outages-all"' not in html
    assert "Outage windows per entry point (140)" in html


def _node3_then_all(entry: str, due: float) -> str | None:
    return "refused" if (entry == "node3" and 12.0 <= due < 14.0) or 20.0 <= due < 20.5 else None
