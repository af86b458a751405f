"""Evaluate an architecture on a benchmark: the question loop, the judge, the summary statistics,
and the run folder (the one owner of its files, written and read)."""
