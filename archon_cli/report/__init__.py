"""Reports over result folders: the `archon compare` table, paired comparisons, plots and report.md."""

from archon_cli.report.stats import PairedDifference, paired_bootstrap, pareto_front, points_factor, verdict

__all__ = ["PairedDifference", "paired_bootstrap", "pareto_front", "points_factor", "verdict"]
