"""Reports: a run's records drawn as one offline HTML page with a timeline, and its verdict as JUnit XML."""

from __future__ import annotations

from pulltheplug.report.html import REPORT, render_html, write_html
from pulltheplug.report.junit import junit_xml, write_junit
from pulltheplug.report.timeline import Timeline, timeline_of

__all__ = ["REPORT", "Timeline", "junit_xml", "render_html", "timeline_of", "write_html", "write_junit"]
