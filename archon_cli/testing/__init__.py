"""Test and benchmark helpers that ship with the package (no test framework needed to use them)."""

from archon_cli.testing.fault_server import FaultPlan, FaultServer

__all__ = ["FaultPlan", "FaultServer"]
