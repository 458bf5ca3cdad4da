"""Watching a run as it goes: its state folded from the records, a live web page, Prometheus metrics."""
