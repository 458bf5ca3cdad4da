"""Faults: inject -> revert, each with evidence that it took effect. Adding a fault adds one module (and its
line in catalogue.py)."""

from pulltheplug.faults.base import Fault
from pulltheplug.faults.catalogue import make_fault

__all__ = ["Fault", "make_fault"]
