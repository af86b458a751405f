"""A user's own task: a task file (YAML) or a data file, wherever a benchmark name is taken.

file.py: the task file's keys and reading the data; load.py: rows into questions and the split;
scorers.py: the scorers; benchmark.py: the task as a ``Benchmark``; check.py: ``archon check``'s
report on a task.
"""
