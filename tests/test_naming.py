"""Node names sort naturally: node2 before node10, in every place a user reads them."""

from __future__ import annotations

import random

from pulltheplug.naming import node_sort_key, sorted_nodes

NODES = [f"node{i}" for i in range(1, 13)]


def test_node1_to_node12_sort_by_number() -> None:
    shuffled = random.Random(3).sample(NODES, len(NODES))
    assert sorted_nodes(shuffled) == NODES


def test_names_without_numbers_and_mixed_names_still_sort() -> None:
    names = ["worker10", "node2", "node10", "manager", "node2b", "10.0.0.2", "10.0.0.10"]
    assert sorted(names, key=node_sort_key) == ["10.0.0.2", "10.0.0.10", "manager", "node2", "node2b", "node10",
                                                "worker10"]


LEXICAL = sorted(NODES)  # node1, node10, node11, node12, node2, ...: the order the user must not see


def test_the_progress_line_lists_nodes_naturally() -> None:
    from pulltheplug.cli.progress import progress_text
    from pulltheplug.run.progress import RunProgress

    line = progress_text(RunProgress(nodes=dict.fromkeys(LEXICAL, "ready")))
    shown = line.rsplit("|", 1)[-1].split()
    assert [s.split(":")[0] for s in shown] == NODES


def test_availability_and_outages_list_entries_naturally() -> None:
    from pulltheplug.analysis import Phases
    from tests.analysis.history import stream
    from tests.oracles import availability, outage_windows

    def every_entry_fails_a_while(entry: str, due: float) -> str | None:
        return "refused" if 1.0 <= due < 2.0 and entry != "node1" else None

    requests = stream(120.0, 4.0, LEXICAL, fail=every_entry_fails_a_while)
    assert list(availability(requests, Phases(steady=0.0, fault=1.0, revert=2.0, end=4.0)).by_entry) == NODES
    assert [w.entry for w in outage_windows(requests)] == NODES[1:]


def test_timeline_lanes_and_the_figure_list_nodes_naturally() -> None:
    from pulltheplug.report.figure import timeline_figure
    from pulltheplug.report.timeline import timeline_of
    from tests.analysis.history import node, run, stream

    history = run(stream(10.0, 2.0), [node(0.1, name, "ready") for name in LEXICAL])
    history.meta.cluster = {"nodes": [{"name": n, "role": "manager"} for n in LEXICAL[:6]]}
    tl = timeline_of(history)
    assert [lane.node for lane in tl.lanes] == NODES
    fig = timeline_figure(tl)
    assert list(fig.layout.yaxis3.categoryarray) == list(reversed(NODES))  # top to bottom: node1 .. node12


def test_target_candidates_are_listed_naturally() -> None:
    from pulltheplug.cluster.seam import ClusterNode
    from pulltheplug.faults.targets import pick_target

    nodes = [ClusterNode(n, f"10.0.0.{i}", "worker") for i, n in enumerate(LEXICAL, start=2)]
    assert pick_target("random-worker", nodes, None, seed=1).candidates == NODES


def test_the_reports_cluster_table_lists_nodes_naturally() -> None:
    from pulltheplug.analysis.results import results_of
    from pulltheplug.report.html import report_context
    from tests.analysis.history import run, stream

    history = run(stream(10.0, 2.0))
    history.meta.cluster = {"nodes": [{"name": n, "role": "worker"} for n in LEXICAL]}
    summary, slos = results_of(history)
    assert [n["name"] for n in report_context(history, summary, slos)["cluster_nodes"]] == NODES
