"""The scorers a task names: how a row's target is read, how a reply's answer is extracted (the
same extraction a majority vote counts), and how the reply is scored.

Each reuses the reading of the built-in benchmark it is named after: ``number`` is gsm8k's final
number, ``choice`` MixEval's rule parser, ``math`` MATH-500's math-verify, ``code`` HumanEval's
sandboxed official verdict, ``judge`` the built-in judges' verdict counting (parsed share,
UNRELIABLE). A row the scorer cannot use (a target that is not a number, an option that is not
there) raises ``RowProblem``; the loader names the file, row and column.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import random
import re
import string
import sys
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any, ClassVar

from archon_cli.answers import extract_answer, normalize_number
from archon_cli.benchmarks.base import Judge, Question, Score
from archon_cli.benchmarks.gsm8k import as_number
from archon_cli.benchmarks.task.file import TaskFile, as_text
from archon_cli.errors import ArchonError, UserError
from archon_cli.llm.types import Message


class RowProblem(ValueError):
    """A row's cell that the scorer cannot use; the message says why, ``option`` whether the
    options cell (else the target cell) is at fault."""

    def __init__(self, message: str, option: bool = False) -> None:
        super().__init__(message)
        self.option = option


# -- SQuAD's answer normalisation (lower case, no punctuation, no articles, single spaces) --------

_PUNCTUATION = str.maketrans("", "", string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_text(text: str) -> str:
    """SQuAD's ``normalize_answer``: lower-cased, punctuation and the articles a/an/the removed,
    whitespace collapsed."""
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCTUATION)).split())


def targets_of(cell: Any) -> list[str]:
    """A target cell as its accepted answers: a list cell means any of these."""
    if isinstance(cell, str):  # the common cases, first
        return [cell] if cell.strip() else []
    if type(cell) is int:
        return [str(cell)]
    values = cell if isinstance(cell, list | tuple) else [cell]
    texts = [as_text(v) for v in values if v is not None]
    return [t for t in texts if t.strip()]


class Scorer:
    """A scorer: ``reference`` reads a row's target (and options) once, at load; ``extract`` is
    its answer extraction; ``score`` grades one reply."""

    name: ClassVar[str]
    metric: ClassVar[str] = "accuracy"
    scale: ClassVar[float] = 1.0
    needs_judge: ClassVar[bool] = False
    needs_target: ClassVar[bool] = True
    votes: ClassVar[bool] = True  # whether a majority vote uses ``extract`` (else the general extraction)

    def __init__(self, spec: TaskFile, where: str, base: Path) -> None:
        self.spec = spec
        self.where = where

    def reference(self, target: Any, row: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        """The question's reference and scorer meta from its target cell and row."""
        return targets_of(target), {}

    def example_answer(self, question: Question) -> str | None:
        """The answer a few-shot example shows for ``question`` (None: it cannot be an example)."""
        reference = question.reference
        return str(reference[0]) if isinstance(reference, list) and reference else None

    def extract(self, reply: str, question: Question) -> str | None:
        return normalize_text(reply) or None

    async def score(self, reply: str, question: Question, judge: Judge | None) -> Score:
        raise NotImplementedError

    def describe(self) -> str:
        return self.name


class Exact(Scorer):
    name = "exact"

    async def score(self, reply: str, question: Question, judge: Judge | None) -> Score:
        got = normalize_text(reply)
        right = any(got == normalize_text(t) for t in question.reference)
        return Score(float(right), {"extracted": got, "reference": question.reference})


class Includes(Scorer):
    name = "includes"

    async def score(self, reply: str, question: Question, judge: Judge | None) -> Score:
        got = normalize_text(reply)
        found = [t for t in question.reference if normalize_text(t) and f" {normalize_text(t)} " in f" {got} "]
        return Score(float(bool(found)), {"found": found[:1], "reference": question.reference})


class Regex(Scorer):
    name = "regex"

    def __init__(self, spec: TaskFile, where: str, base: Path) -> None:
        super().__init__(spec, where, base)
        if not spec.pattern:
            raise UserError(f"{where}: scorer regex needs a pattern")
        try:
            self.pattern = re.compile(spec.pattern)
        except re.error as exc:
            raise UserError(f"{where}: pattern {spec.pattern!r} does not compile ({exc})") from None

    def extract(self, reply: str, question: Question) -> str | None:
        match = self.pattern.search(reply)
        if match is None:
            return None
        return normalize_text(match.group(1) if self.pattern.groups else match.group(0))

    async def score(self, reply: str, question: Question, judge: Judge | None) -> Score:
        got = self.extract(reply, question)
        right = got is not None and any(got == normalize_text(t) for t in question.reference)
        return Score(float(right), {"extracted": got, "reference": question.reference})

    def describe(self) -> str:
        return f"regex {self.pattern.pattern!r}"


_PLAIN_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")  # needs no closer look (most targets)


class Number(Scorer):
    """gsm8k's reading: the reply's final number (``answers.extract_answer``), by value."""

    name = "number"

    def reference(self, target: Any, row: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        targets = targets_of(target)
        for t in targets:
            if _PLAIN_NUMBER.fullmatch(t) is None and as_number(normalize_number(t)) is None:
                raise RowProblem(f"target {t!r} is not a number")
        return targets, {}

    def extract(self, reply: str, question: Question) -> str | None:
        value = as_number(extract_answer(reply))
        return None if value is None else str(value)

    async def score(self, reply: str, question: Question, judge: Judge | None) -> Score:
        extracted = extract_answer(reply)
        value = as_number(extracted)
        golds = [as_number(normalize_number(t)) for t in question.reference]
        tolerance = Fraction(self.spec.tolerance)
        right = value is not None and any(g is not None and abs(value - g) <= tolerance for g in golds)
        return Score(float(right), {"extracted": extracted, "reference": question.reference})

    def describe(self) -> str:
        return f"number (tolerance {self.spec.tolerance:g})" if self.spec.tolerance else "number"


def options_of(cell: Any) -> list[str]:
    """An options cell: a list (JSONL, JSON, parquet), or in a CSV a JSON list or ``a | b | c``."""
    if isinstance(cell, str):
        text = cell.strip()
        if text.startswith("["):
            try:
                cell = json.loads(text)
            except json.JSONDecodeError:
                raise RowProblem("the options are not a JSON list", option=True) from None
        else:
            cell = [part.strip() for part in text.split("|")]
    if not isinstance(cell, list | tuple) or len(cell) < 2:
        raise RowProblem("needs a list of at least two options", option=True)
    if len(cell) > 26:
        raise RowProblem(f"{len(cell)} options, over 26 letters", option=True)
    return [as_text(o) for o in cell]


class Choice(Scorer):
    """MixEval's rule parser (``mixeval.parse_choice_rule``); its random pick when nothing is
    found is seeded by the question id as MixEval seeds it, so a question scores as it does there."""

    name = "choice"

    def __init__(self, spec: TaskFile, where: str, base: Path) -> None:
        super().__init__(spec, where, base)
        if not spec.options:
            raise UserError(f"{where}: scorer choice needs options (the column holding each row's options)")

    def reference(self, target: Any, row: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        from archon_cli.benchmarks.mixeval import option_letters

        options = options_of(row.get(str(self.spec.options)))
        letters = option_letters(len(options))
        golds = []
        for value in target if isinstance(target, list | tuple) else [target]:
            text = as_text(value).strip()
            if text in options:
                golds.append(letters[options.index(text)])
            elif len(text) == 1 and text in letters:
                golds.append(text)
            elif text.lstrip("-").isdigit() and 0 <= int(text) < len(options):
                golds.append(letters[int(text)])  # an index from 0, as MixEval's targets
            else:
                raise RowProblem(f"target {text!r} is none of the options, their letters or their indices from 0")
        return golds, {"options": options}

    def example_answer(self, question: Question) -> str | None:
        return str(question.reference[0]) if question.reference else None

    def extract(self, reply: str, question: Question) -> str | None:
        from archon_cli.benchmarks.mixeval import chosen_letter

        return chosen_letter(reply, question.meta["options"])

    async def score(self, reply: str, question: Question, judge: Judge | None) -> Score:
        from archon_cli.benchmarks.mixeval import parse_choice_rule

        rng = random.Random(f"mixeval:{question.id}")
        letter, how = parse_choice_rule(reply, question.meta["options"], rng)
        return Score(float(letter in question.reference), {"extracted": letter, "reference": question.reference, "parsed_by": how})


class Math(Scorer):
    """MATH-500's math-verify equivalence (``math500.is_equivalent``)."""

    name = "math"

    def extract(self, reply: str, question: Question) -> str | None:
        from archon_cli.benchmarks.math500 import parse_reply

        try:
            predicted, boxed = parse_reply(reply)
        except Exception:
            return None
        return boxed if boxed is not None else (str(predicted[-1]) if predicted else None)

    async def score(self, reply: str, question: Question, judge: Judge | None) -> Score:
        from archon_cli.benchmarks.math500 import is_equivalent

        extracted = None
        for gold in question.reference:
            right, extracted = is_equivalent(reply, gold)
            if right:
                return Score(1.0, {"extracted": extracted, "reference": question.reference})
        return Score(0.0, {"extracted": extracted, "reference": question.reference})


class Code(Scorer):
    """The target column holds test code, run after the reply's code in the code sandbox, judged
    as HumanEval is (``code.base.official_verdict``): passing means running to the end in time;
    an exception, ``sys.exit`` or an early ``os._exit`` fails."""

    name = "code"
    votes = False

    def __init__(self, spec: TaskFile, where: str, base: Path) -> None:
        super().__init__(spec, where, base)
        self.sandbox: Any = None  # set by the task benchmark (its preflight checks it)

    def reference(self, target: Any, row: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        return as_text(target), {}

    def example_answer(self, question: Question) -> str | None:
        return None

    def extract(self, reply: str, question: Question) -> str | None:
        from archon_cli.execution.extract import extract_code

        return " ".join(extract_code(reply).split()) or None

    async def score(self, reply: str, question: Question, judge: Judge | None) -> Score:
        from archon_cli.benchmarks.code.base import official_verdict
        from archon_cli.execution.extract import extract_code, keep_definitions

        program = f"{keep_definitions(extract_code(reply))}\n\n{question.reference}\n"
        _, details = await official_verdict(self.sandbox, program, self.spec.timeout)
        return Score(1.0 if details["passed"] else 0.0, details)


_PASS_FAIL = re.compile(r"\[\[\s*(PASS|FAIL)\s*\]\]", re.I)
_RATING = re.compile(r"\[\[\s*(\d+(?:\.\d+)?)\s*\]\]")


def judge_messages(rubric: str, question: Question, reply: str, grade: str) -> list[Message]:
    """The judge's prompt (archon's own wording): the rubric, the question, the reference where
    the row has one, the reply, and the verdict format."""
    references = question.reference if isinstance(question.reference, list) else []
    parts = [f"Rubric:\n{rubric}", f"Question:\n{question.asked(0)}"]
    if references:
        parts.append("Reference answer:\n" + "\n".join(references))
    parts.append(f"Answer to grade:\n{reply}")
    if grade == "pass-fail":
        parts.append("Does the answer meet the rubric? Explain briefly, then end with [[PASS]] or [[FAIL]].")
    else:
        parts.append("Rate the answer against the rubric from 1 (worst) to 10 (best). Explain briefly, then end with the rating in double brackets, for example [[7]].")
    system = "You grade answers against a rubric, strictly and briefly."
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n\n".join(parts)}]


def read_verdict(judgment: str, grade: str) -> float | None:
    """The verdict in a judgment: the last [[PASS]]/[[FAIL]] (1 or 0), or the last [[n]] within
    1-10; None when there is none (the question is then unscored and counts against the parsed share)."""
    if grade == "pass-fail":
        found = _PASS_FAIL.findall(judgment)
        return None if not found else float(found[-1].upper() == "PASS")
    ratings = [float(x) for x in _RATING.findall(judgment)]
    ratings = [r for r in ratings if 1.0 <= r <= 10.0]
    return ratings[-1] if ratings else None


class JudgeScorer(Scorer):
    name = "judge"
    needs_judge = True
    needs_target = False
    votes = False

    def __init__(self, spec: TaskFile, where: str, base: Path) -> None:
        super().__init__(spec, where, base)
        if not spec.rubric or not spec.rubric.strip():
            raise UserError(f"{where}: scorer judge needs a rubric")

    def example_answer(self, question: Question) -> str | None:
        return super().example_answer(question) if question.reference else None

    async def score(self, reply: str, question: Question, judge: Judge | None) -> Score:
        if judge is None:
            raise ArchonError("scorer judge: no judge model")
        judgment = await judge.ask(judge_messages(str(self.spec.rubric), question, reply, self.spec.grade))
        verdict = read_verdict(judgment, self.spec.grade)
        details = {"judge_asked": 1, "judge_parsed": int(verdict is not None), "judgment": judgment[-2000:]}
        return Score(verdict, details)

    def describe(self) -> str:
        return f"judge ({self.spec.grade}{', ' + self.spec.judge if self.spec.judge else ''})"


def load_function(spec: str, base: Path, where: str) -> Callable[..., Any]:
    """``module:function`` (importable) or ``file.py:function`` (relative to the task file)."""
    target, sep, name = spec.rpartition(":")
    if not sep or not target or not name.isidentifier():
        raise UserError(f"{where}: function {spec!r}: expected module:function or file.py:function")
    try:
        if target.endswith(".py"):
            path = Path(target) if Path(target).is_absolute() else base / target
            if not path.is_file():
                raise UserError(f"{where}: function {spec!r}: {path} not found")
            module_name = f"archon_task_scorer_{abs(hash(str(path.resolve())))}"
            loader = importlib.util.spec_from_file_location(module_name, path)
            if loader is None or loader.loader is None:
                raise UserError(f"{where}: function {spec!r}: cannot import {path}")
            module = importlib.util.module_from_spec(loader)
            sys.modules[module_name] = module
            loader.loader.exec_module(module)
        else:
            module = importlib.import_module(target)
    except UserError:
        raise
    except BaseException as exc:  # the user's module raising anything at import (SystemExit too)
        if isinstance(exc, KeyboardInterrupt):
            raise
        reason = (str(exc).strip().splitlines() or [""])[0][:200]
        raise UserError(f"{where}: function {spec!r} cannot be imported ({type(exc).__name__}: {reason})") from None
    function = getattr(module, name, None)
    if not callable(function):
        raise UserError(f"{where}: function {spec!r}: {target} has no function {name!r}")
    return function  # type: ignore[no-any-return]


class Python(Scorer):
    """A function of the user's, called with the reply and the row, returning a bool or a float in
    [0, 1]. It raising, or returning anything else, is that question's error (the run goes on)."""

    name = "python"
    needs_target = False
    votes = False

    def __init__(self, spec: TaskFile, where: str, base: Path) -> None:
        super().__init__(spec, where, base)
        if not spec.function:
            raise UserError(f"{where}: scorer python needs a function (module:function or file.py:function)")
        self.base = base
        self.function: Callable[..., Any] | None = None
        self.row: Callable[[str], dict[str, Any]] = lambda _id: {}

    def load(self) -> None:
        """Import the function (before any call; a failure is a one-line UserError)."""
        if self.function is None:
            self.function = load_function(str(self.spec.function), self.base, self.where)

    def __getstate__(self) -> dict[str, Any]:  # the function is imported again where it is used
        return {**self.__dict__, "function": None}

    def example_answer(self, question: Question) -> str | None:
        return super().example_answer(question) if question.reference else None

    async def score(self, reply: str, question: Question, judge: Judge | None) -> Score:
        self.load()
        assert self.function is not None
        try:
            value = self.function(reply, self.row(question.id))
            if inspect.isawaitable(value):
                value = await value
        except Exception as exc:
            reason = (str(exc).strip().splitlines() or [""])[0][:200]
            raise ArchonError(f"python scorer {self.spec.function} raised {type(exc).__name__}: {reason}") from None
        if isinstance(value, bool):
            return Score(float(value), {})
        if isinstance(value, int | float) and 0.0 <= float(value) <= 1.0:
            return Score(float(value), {})
        raise ArchonError(
            f"python scorer {self.spec.function} returned {value!r:.80}, not a bool or a number in [0, 1]"
        )

    def describe(self) -> str:
        return f"python {self.spec.function}"


_SCORERS: dict[str, type[Scorer]] = {
    cls.name: cls for cls in (Exact, Includes, Regex, Number, Choice, Math, Code, JudgeScorer, Python)
}


def make_scorer(spec: TaskFile, where: str, base: Path) -> Scorer:
    return _SCORERS[spec.scorer](spec, where, base)
