"""Validated settings: architectures, budgets, and the original Archon JSON format."""

from archon_cli.config.architecture import Architecture, load_architecture, parse_architecture
from archon_cli.config.budget import Budget, load_budget

__all__ = ["Architecture", "Budget", "load_architecture", "load_budget", "parse_architecture"]
