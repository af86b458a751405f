"""A user's task as a ``Benchmark``: eval, search, compare, budgets, the cache and run folders
work on it as on a built-in one.

Its name is the task's; its run folders record the task and data files' hashes
(``identity``), so a changed file starts a new run. Its split is the task's (a dev share with
an optional seed, or a split column); its few-shot examples come from the dev part; its
majority vote counts what the scorer extracts (``answer_key``).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from archon_cli.benchmarks.base import Benchmark, Judge, OfficialJudge, Question, Response, Score
from archon_cli.benchmarks.task.file import FractionSplit, Task
from archon_cli.benchmarks.task.load import dev_share, load_task
from archon_cli.benchmarks.task.scorers import Code, Python, Scorer
from archon_cli.errors import UserError


class TaskBenchmark(Benchmark):
    name = "task"
    description = "a task file or data file"

    def __init__(self, path: Path, data_dir: Path | None = None, problems: list[str] | None = None) -> None:
        """``problems``: collect the rows' problems there (``archon check``) instead of raising."""
        super().__init__(data_dir)
        self.path = path
        task, scorer = load_task(path, problems)
        self.task: Task = task
        self.scorer: Scorer = scorer
        # Per-task values of what the built-ins declare per class.
        self.name = task.name  # type: ignore[misc]
        self.description = task.spec.description or f"task {path} ({len(task.questions)} rows, scorer {scorer.describe()})"  # type: ignore[misc]
        self.metric = "judge rating (1-10)" if scorer.name == "judge" and task.spec.grade == "1-10" else scorer.metric  # type: ignore[misc]
        self.scale = 10.0 if self.metric.startswith("judge rating") else scorer.scale  # type: ignore[misc]
        self.needs_judge = scorer.needs_judge  # type: ignore[misc]
        self.dev_fraction = dev_share(task.spec)  # type: ignore[misc]
        self._examples: list[Question] | None = None
        self._dev_cache: dict[int, set[str]] = {}
        if isinstance(scorer, Python):
            scorer.row = task.row
            scorer.load()  # before any call: an import failure is exit 2
        if isinstance(scorer, Code):
            from archon_cli.execution.sandbox import Sandbox, SandboxLimits

            scorer.sandbox = Sandbox(SandboxLimits(timeout_s=task.spec.timeout + 2.0))

    def load(self) -> list[Question]:
        return list(self.task.questions)

    def identity(self) -> dict[str, Any]:
        return self.task.identity()

    def official_judge(self) -> OfficialJudge | None:
        """The task's ``judge`` model (used unless --judge names another)."""
        if not self.needs_judge or not self.task.spec.judge:
            return None
        return OfficialJudge(self.task.spec.judge, "", 1024, 0.0, f"the task file {self.path}")

    def preflight(self, allow_unsandboxed: bool = False) -> dict[str, Any]:
        """The task's files for the run folder; a code task's sandbox checked (as the code benchmarks')."""
        files = self.task.files()
        if isinstance(self.scorer, Code):
            sandbox = self.scorer.sandbox
            sandbox.allow_unsandboxed = sandbox.allow_unsandboxed or allow_unsandboxed
            return {**files, "sandbox": sandbox.check_ready().describe()}
        return files

    def aggregate(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        extra: dict[str, Any] = {"scorer": self.scorer.describe(), **self.identity(), **self.task.files()}
        if isinstance(self.scorer, Code):
            extra["sandbox"] = self.scorer.sandbox.describe()
        return extra

    # -- split and examples

    def _seed(self, seed: int) -> int:
        split = self.task.spec.split
        return split.seed if isinstance(split, FractionSplit) and split.seed is not None else seed

    def _dev_ids(self, seed: int) -> set[str]:
        """The ids of the dev part (made once per seed: a search asks for both parts)."""
        if self.task.split_of is not None:
            return {k for k, v in self.task.split_of.items() if v == "dev"}
        seed = self._seed(seed)
        if seed not in self._dev_cache:
            prefix = f"{self.name}:{seed}:"
            sha = hashlib.sha256
            ids = [q.id for q in self.task.questions]
            ids.sort(key=lambda qid: sha(f"{prefix}{qid}".encode()).digest())
            self._dev_cache[seed] = set(ids[: math.ceil(len(ids) * self.dev_fraction)])
        return self._dev_cache[seed]

    def split(self, questions: list[Question], split: str, seed: int) -> list[Question]:
        """The task's split: its split column, else a seeded hash of the ids (the task's seed, else
        ``seed``) with the task's dev share."""
        if split not in ("dev", "test", "all"):
            raise UserError(f"unknown split {split!r} (expected dev, test or all)")
        dev = self._dev_ids(seed)
        if self.task.spec.examples:
            self._examples = [q for q in self.task.questions if q.id in dev]
        if split == "all":
            return list(questions)
        return [q for q in questions if (q.id in dev) == (split == "dev")]

    def few_shot(self, question: Question) -> tuple[tuple[str, str], ...]:
        """``examples`` worked examples from the dev part, never the question itself."""
        count = self.task.spec.examples
        if not count:
            return ()
        if self._examples is None:
            dev = self._dev_ids(0)
            self._examples = [q for q in self.task.questions if q.id in dev]
        shots: list[tuple[str, str]] = []
        for example in self._examples:
            if example.id == question.id:
                continue
            answer = self.scorer.example_answer(example)
            if answer is not None:
                shots.append((example.turns[0], answer))
            if len(shots) == count:
                break
        return tuple(shots)

    # -- scoring

    def answer_key(self, question: Question) -> Callable[[str], str | None] | None:
        return partial(self.scorer.extract, question=question) if self.scorer.votes else None

    async def score(self, question: Question, response: Response, judge: Judge | None) -> Score:
        return await self.scorer.score(response.answer, question, judge)
