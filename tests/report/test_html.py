"""report.html: self-contained (no network), with the run's facts, the timeline div and tables."""

from __future__ import annotations

import re
from pathlib import Path

from pulltheplug.record import NOT_SENT, RequestRecord, load_run
from pulltheplug.report import REPORT, write_html
from pulltheplug.results import results_of
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
    for text in ("node lost (down / unknown), after fault start", "new leader, after fault start",
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
    from pulltheplug.record import Event
    from pulltheplug.report.html import fault_steps

    run = synthetic_run()
    run.events.extend([Event(10.4, "session", {"host": "node2", "state": "lost", "reason": "Keepalive timeout"}),
                       Event(31.2, "session", {"host": "node2", "state": "back", "reason": "reconnected"})])
    steps = [(s.t, s.action, s.evidence) for s in fault_steps(run)]
    assert (10.4, "SSH session to node2 lost", "Keepalive timeout") in steps
    assert (31.2, "SSH session to node2 back", "reconnected") in steps
    assert [t for t, _, _ in steps] == sorted(t for t, _, _ in steps)
