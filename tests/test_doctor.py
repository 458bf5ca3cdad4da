"""`pulltheplug doctor` reports what the kernel has, and offers only what the tool does."""

from __future__ import annotations

import pytest

from pulltheplug import doctor
from pulltheplug.spec import FAULT_KINDS


@pytest.fixture
def kernel_without_netem(monkeypatch: pytest.MonkeyPatch) -> None:
    """Root, and every namespace probe fails (as netem does on a kernel without CONFIG_NET_SCH_NETEM)."""
    monkeypatch.setattr(doctor.os, "geteuid", lambda: 0)
    monkeypatch.setattr(doctor, "_sh", lambda script: "netem" not in script)


def test_netem_is_reported_but_no_netem_fault_is_offered(kernel_without_netem: None) -> None:
    (netem,) = [c for c in doctor.checks() if c.name == "netem"]
    assert not netem.ok and not netem.required  # the kernel fact stays
    said = f"{netem.detail} {netem.advice}".lower()
    assert "delay" not in said and "loss" not in said  # pulltheplug has no delay or loss fault
    assert "netem" not in " ".join(FAULT_KINDS)  # ...as the spec's fault kinds say
