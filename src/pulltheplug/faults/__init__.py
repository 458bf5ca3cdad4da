"""Faults: inject -> revert, each with evidence that it took effect. Adding a fault adds one module."""

from pulltheplug.faults.base import Fault, make_fault

__all__ = ["Fault", "make_fault"]
