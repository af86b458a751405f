"""Evaluate an architecture on a benchmark: answers and scores streamed to disk, resumable."""
