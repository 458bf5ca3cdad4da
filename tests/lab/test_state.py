import ipaddress
from pathlib import Path

import pytest

from pulltheplug.errors import LabError
from pulltheplug.lab.plan import plan_lab
from pulltheplug.lab.state import LabState, list_labs, load_state, require_state, save_state


def test_state_round_trips_and_is_listed(tmp_path: Path) -> None:
    plan = plan_lab("one", nodes=3, managers=1, subnet=ipaddress.ip_network("10.213.3.0/24"), root=tmp_path)
    state = LabState(plan=plan, pids={"node1": 42})
    save_state(state, tmp_path)
    back = load_state("one", tmp_path)
    assert back == state
    assert list_labs(tmp_path) == ["one"]
    assert not list(tmp_path.glob("*/*.tmp"))


def test_missing_lab_says_how_to_make_it(tmp_path: Path) -> None:
    assert load_state("nope", tmp_path) is None
    with pytest.raises(LabError, match="lab up --name nope"):
        require_state("nope", tmp_path)


def test_corrupt_state_says_how_to_clean_up(tmp_path: Path) -> None:
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "state.json").write_text("{not json")
    with pytest.raises(LabError, match="lab down --name bad"):
        load_state("bad", tmp_path)


def test_a_state_file_written_before_engines_reads_as_this_machines_engine(tmp_path: Path) -> None:
    """A lab made by an older version (no engine per node) is still read, its nodes on bookworm's engine."""
    import json

    plan = plan_lab("old", nodes=2, managers=1, subnet=ipaddress.ip_network("10.213.4.0/24"), root=tmp_path)
    data = LabState(plan=plan, engine_version="20.10.24+dfsg1").model_dump(mode="json")
    for node in data["plan"]["nodes"]:
        del node["engine"]
    del data["engine_versions"]
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "state.json").write_text(json.dumps(data))
    back = load_state("old", tmp_path)
    assert back is not None and [n.engine for n in back.plan.nodes] == ["bookworm", "bookworm"]
    assert back.engine_versions == {} and back.engine_version == "20.10.24+dfsg1"
