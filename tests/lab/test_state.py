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
