"""The benchmark contract: load questions, let the architecture respond, score the response.

A benchmark is one module: a ``Benchmark`` subclass registered in ``benchmarks/__init__.py``.
Scores are in the benchmark's own unit (accuracy 0-1, MT-Bench 1-10, win rate 0-1);
``metric`` names it and ``scale`` is its maximum.
"""

from __future__ import annotations

import hashlib
import math
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

from archon_cli.benchmarks.data import read_jsonl as read_jsonl
from archon_cli.benchmarks.data import required as required
from archon_cli.engine.runner import QueryResult
from archon_cli.errors import UserError
from archon_cli.llm.types import Message
from archon_cli.state import Query

Solve = Callable[[Query], Awaitable[QueryResult]]

DEV_FRACTION = 0.2  # the share of a benchmark's questions in its dev split (the rest are test)


@dataclass(frozen=True)
class Question:
    """One benchmark item. ``turns`` are the user turns (MT-Bench has two); ``instruction`` is the
    answer-format instruction the benchmark appends to each of them (tiny-arith's " Answer with
    just the number."), kept apart so a generator's prompt style can word the question its own way."""

    id: str
    turns: tuple[str, ...]
    reference: Any = None
    category: str = ""
    system: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    instruction: str = ""

    def asked(self, turn: int) -> str:
        """User turn ``turn`` as the benchmark asks it: the turn and its instruction."""
        return self.turns[turn] + self.instruction

    def query(self, history: Sequence[Message] = (), examples: Sequence[tuple[str, str]] = ()) -> Query:
        """The query for the next turn, after ``history`` (earlier user/assistant messages), with
        the benchmark's few-shot ``examples`` for generators whose prompt style uses them."""
        messages: list[Message] = []
        if self.system:
            messages.append({"role": "system", "content": self.system})
        messages.extend(dict(m) for m in history)
        turn = sum(1 for m in history if m["role"] == "user")
        messages.append({"role": "user", "content": self.asked(turn)})
        return Query(
            messages=tuple(messages),
            id=self.id,
            question=self.turns[turn],
            instruction=self.instruction,
            examples=tuple(examples),
        )


@dataclass
class Response:
    """The architecture's answers, one per turn, with the results that produced them."""

    answers: list[str]
    results: list[QueryResult]

    @property
    def answer(self) -> str:
        return self.answers[-1] if self.answers else ""


@dataclass(frozen=True)
class Score:
    """``value`` in the benchmark's unit; ``details`` explain it (extracted answer, verdicts, ...).

    ``value`` None: no judgment gave a readable verdict; the question is left out of the score (as
    the official scorers drop it) and counted as unscored. Judge-based benchmarks put
    ``judge_asked`` and ``judge_parsed`` (judgments asked, verdicts read) in ``details``, and
    ``weight`` where the official score pools finer units than questions (see evaluation/summary.py).
    """

    value: float | None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OfficialJudge:
    """The judge a benchmark's official scorer uses: its LiteLLM route, the provider key it needs,
    its settings, and where they come from."""

    model: str
    key_env: str
    max_tokens: int
    temperature: float = 0.0
    source: str = ""


class Judge(ABC):
    """A model that grades answers (MT-Bench, AlpacaEval, Arena-Hard). Calls are counted apart
    from the architecture's."""

    model: str

    @abstractmethod
    async def ask(self, messages: Sequence[Message], sample_index: int = 0) -> str: ...


class Benchmark(ABC):
    name: ClassVar[str]
    metric: ClassVar[str] = "accuracy"
    scale: ClassVar[float] = 1.0
    needs_judge: ClassVar[bool] = False
    # A benchmark scored without a judge that can use one when asked (MixEval's model parser).
    judge_optional: ClassVar[bool] = False
    # Where the data lives under --data-dir (for messages), and the hub id used without one.
    data_files: ClassVar[tuple[str, ...]] = ()
    hub_id: ClassVar[str | None] = None
    # The share of the questions in the dev split (the rest are held-out test).
    dev_fraction: ClassVar[float] = DEV_FRACTION

    def __init__(self, data_dir: Path | None = None) -> None:
        self.data_dir = data_dir

    @abstractmethod
    def load(self) -> list[Question]:
        """All questions, in a stable order, with stable ids. Raises UserError when data is missing."""

    def few_shot(self, question: Question) -> tuple[tuple[str, str], ...]:
        """Worked (question, answer) pairs a few-shot prompt may show before ``question``: written
        like its turns (without the instruction), never drawn from the questions scored. None by
        default; a generator asking for examples then prompts zero-shot in its format."""
        return ()

    def answer_key(self, question: Question) -> Callable[[str], str | None] | None:
        """How this benchmark reads a reply's final answer to ``question``, for a majority vote
        (``Query.answer_key``); None: the general ``answers.extract_answer``."""
        return None

    def split(self, questions: list[Question], split: str, seed: int) -> list[Question]:
        """The questions of ``split`` (dev, test or all): the seeded split of ``split_questions``."""
        return split_questions(questions, split, seed, self.name, self.dev_fraction)

    def identity(self) -> dict[str, Any]:
        """What a run folder records of the benchmark's files beyond its name (a task's file
        hashes); a folder made with another identity is never resumed. Empty for the built-ins."""
        return {}

    async def respond(self, question: Question, solve: Solve) -> Response:
        """Run the architecture on every turn; later turns see the architecture's earlier answers."""
        history: list[Message] = []
        answers: list[str] = []
        results: list[QueryResult] = []
        examples = self.few_shot(question)
        key = self.answer_key(question)
        for turn in range(len(question.turns)):
            query = question.query(history, examples)
            result = await solve(query if key is None else replace(query, answer_key=key))
            results.append(result)
            if result.error is not None:
                break
            answers.append(result.answer)
            history += [
                {"role": "user", "content": question.asked(turn)},
                {"role": "assistant", "content": result.answer},
            ]
        return Response(answers=answers, results=results)

    @abstractmethod
    async def score(self, question: Question, response: Response, judge: Judge | None) -> Score:
        """Score one response. Judge-based benchmarks call ``judge``; others must not need it."""

    def aggregate(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """Extra benchmark-wide figures for the summary (e.g. a length-controlled win rate)."""
        return {}

    def official_judge(self) -> OfficialJudge | None:
        """The official scorer's judge (None for benchmarks scored without one)."""
        return None

    def preflight(self, allow_unsandboxed: bool = False) -> dict[str, Any]:
        """Checks before the first question beyond the data (the code benchmarks' sandbox); a
        problem is a one-line UserError. Returns a description of the set-up for the run folder."""
        return {}

    # -- data helpers -------------------------------------------------------------------------

    def data_path(self, *parts: str) -> Path:
        """A file under the data directory, or a one-line UserError naming what is missing."""
        if self.data_dir is None:
            raise UserError(f"{self.name}: no data directory given (use --data-dir or ARCHON_DATA_DIR)")
        if not self.data_dir.is_dir():
            raise UserError(f"data directory {self.data_dir} does not exist")
        path = self.data_dir.joinpath(*parts)
        if not path.exists():
            raise UserError(f"{self.name}: data directory {self.data_dir} has no {'/'.join(parts)}")
        return path

    def hub_rows(self, hub_id: str, split: str, config: str | None = None) -> list[dict[str, Any]]:
        """Rows from the Hugging Face hub (used when no data directory is given)."""
        try:
            from datasets import load_dataset

            dataset = load_dataset(hub_id, config, split=split)
        except Exception as exc:
            raise UserError(
                f"{self.name}: could not load {hub_id} from the Hugging Face hub "
                f"({type(exc).__name__}); give a local copy with --data-dir or ARCHON_DATA_DIR"
            ) from None
        return [dict(row) for row in dataset]


def split_questions(
    questions: list[Question], split: str, seed: int, name: str, dev_fraction: float = DEV_FRACTION
) -> list[Question]:
    """A deterministic dev/test split: questions ordered by a seeded hash of their id, the first
    ``dev_fraction`` are dev and the rest held-out test. Returned in the benchmark's own order."""
    if split == "all":
        return list(questions)
    if split not in ("dev", "test"):
        raise UserError(f"unknown split {split!r} (expected dev, test or all)")
    ranked = sorted(questions, key=lambda q: hashlib.sha256(f"{name}:{seed}:{q.id}".encode()).hexdigest())
    n_dev = math.ceil(len(questions) * dev_fraction)
    chosen = {q.id for q in (ranked[:n_dev] if split == "dev" else ranked[n_dev:])}
    return [q for q in questions if q.id in chosen]
