"""What every evaluation of a benchmark is given, whoever asks (eval, compare's architecture files,
and the command line's evaluation options): the split and its questions, the judge, the data, the
results folder. Light (standard library only): ``archon --help`` reads it through cli.py."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, kw_only=True)
class EvalScope:
    split: str = "dev"
    limit: int | None = None
    seed: int = 0
    judge: str | None = None
    data_dir: Path | None = None
    results_dir: Path = Path("results")
    allow_unsandboxed: bool = False
    wait_lock: bool = False  # wait for another process evaluating into the same folder (else exit 2)
