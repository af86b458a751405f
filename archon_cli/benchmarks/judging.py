"""Shared pieces of the judge-based benchmarks (MT-Bench, AlpacaEval, Arena-Hard).

Pure verdict parsers (a rating as FastChat reads it, a pairwise ``[[A]]``/``[[B]]``/``[[C]]``
choice), pairwise judging in both orders, and the data-file lookup: a file under
``--data-dir``, or the same file downloaded from the Hugging Face hub when no directory is given.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from archon_cli.benchmarks.base import Benchmark, Judge
from archon_cli.errors import UserError
from archon_cli.llm.types import Message

# -- data files ---------------------------------------------------------------------------------


def data_file(
    benchmark: Benchmark, local: Sequence[str], hub_repo: str, hub_path: str, repo_type: str = "dataset"
) -> Path:
    """``local`` under the data directory, else ``hub_path`` of ``hub_repo`` downloaded from the
    Hugging Face hub. A missing file is a one-line UserError naming it."""
    path = _locate(benchmark, local, hub_repo, hub_path, repo_type, optional=False)
    assert path is not None
    return path


def optional_data_file(
    benchmark: Benchmark, local: Sequence[str], hub_repo: str, hub_path: str, repo_type: str = "dataset"
) -> Path | None:
    """Like ``data_file``, but ``None`` when the file does not exist (an unreachable hub is still an error)."""
    return _locate(benchmark, local, hub_repo, hub_path, repo_type, optional=True)


def _locate(
    benchmark: Benchmark, local: Sequence[str], hub_repo: str, hub_path: str, repo_type: str, optional: bool
) -> Path | None:
    if benchmark.data_dir is not None:
        if optional and benchmark.data_dir.is_dir() and not benchmark.data_dir.joinpath(*local).exists():
            return None
        return benchmark.data_path(*local)
    try:
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import RemoteEntryNotFoundError
    except ImportError:  # pragma: no cover - huggingface_hub comes with datasets
        raise UserError(f"{benchmark.name}: give a local copy with --data-dir or ARCHON_DATA_DIR") from None
    try:
        return Path(hf_hub_download(repo_id=hub_repo, filename=hub_path, repo_type=repo_type))
    except RemoteEntryNotFoundError:  # the hub answered: no such file
        if optional:
            return None
        raise UserError(f"{benchmark.name}: {hub_repo} on the Hugging Face hub has no {hub_path}") from None
    except Exception as exc:
        raise UserError(
            f"{benchmark.name}: could not download {hub_path} from {hub_repo} on the Hugging Face hub "
            f"({type(exc).__name__}); give a local copy with --data-dir or ARCHON_DATA_DIR"
        ) from None


def read_json_list(path: Path, name: str) -> list[dict[str, Any]]:
    """A JSON file holding a list of objects (the AlpacaEval output files)."""
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise UserError(f"{name}: {path} is not valid JSON") from None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise UserError(f"{name}: {path} is not a JSON list of objects")
    return rows


def field(row: dict[str, Any], key: str, name: str, where: str) -> Any:
    """``row[key]``, or a UserError naming the row that lacks it."""
    try:
        return row[key]
    except KeyError:
        raise UserError(f"{name}: {where} has no {key!r} field") from None


# -- verdict parsers ----------------------------------------------------------------------------

# FastChat's patterns (fastchat/llm_judge/common.py: one_score_pattern, one_score_pattern_backup).
_DOUBLE_BRACKET = re.compile(r"\[\[(\d+\.?\d*)\]\]")
_SINGLE_BRACKET = re.compile(r"\[(\d+\.?\d*)\]")


def parse_rating(text: str) -> float | None:
    """The rating in a judgment, as FastChat's ``run_judge_single`` reads it: the first ``[[n]]``,
    else the first ``[n]``; any number counts (no range check); None where FastChat gives -1."""
    match = _DOUBLE_BRACKET.search(text) or _SINGLE_BRACKET.search(text)
    return float(match.group(1)) if match else None


Choice = Literal["A", "B", "tie"]
_CHOICE = re.compile(r"\[\[\s*(A|B|C|tie)\s*\]\]", re.IGNORECASE)


def parse_choice(text: str) -> Choice | None:
    """``[[A]]``, ``[[B]]``, or ``[[C]]``/``[[tie]]`` for a tie. Two different verdicts in one
    judgment (a judge echoing the instructions) are no verdict."""
    found = {m.upper() for m in _CHOICE.findall(text)}
    if len(found) != 1:
        return None
    value = found.pop()
    return "tie" if value in ("C", "TIE") else value  # type: ignore[return-value]


# -- pairwise judging ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Game:
    """One judgment of the model against the baseline. ``model_first``: the model's answer was
    shown as A. ``advantage`` is the model's advantage (positive = model better, None = unparsed)."""

    model_first: bool
    advantage: int | None
    judgment: str

    def as_dict(self) -> dict[str, Any]:
        return {"model_position": "A" if self.model_first else "B", "advantage": self.advantage}


BuildMessages = Callable[[str, str], list[Message]]


async def judge_both_orders(
    judge: Judge, build: BuildMessages, model_answer: str, baseline_answer: str, parse: Callable[[str], int | None]
) -> list[Game]:
    """Ask the judge with the model as A (sample 0) and as B (sample 1), so a judge that favours
    one position cannot favour the model. ``parse`` returns A's advantage; games report the model's."""
    orders = (True, False)
    texts = await asyncio.gather(
        *(
            judge.ask(build(model_answer, baseline_answer) if first else build(baseline_answer, model_answer), i)
            for i, first in enumerate(orders)
        )
    )
    games = []
    for first, text in zip(orders, texts, strict=True):
        a_advantage = parse(text)
        advantage = None if a_advantage is None else (a_advantage if first else -a_advantage)
        games.append(Game(model_first=first, advantage=advantage, judgment=text))
    return games


def choice_advantage(text: str) -> int | None:
    """``parse_choice`` as A's advantage: +1 A, 0 tie, -1 B."""
    choice = parse_choice(text)
    return None if choice is None else {"A": 1, "tie": 0, "B": -1}[choice]
