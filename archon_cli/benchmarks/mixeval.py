"""MixEval and MixEval-Hard: questions drawn from many benchmarks, free-form and multiple-choice.

Data: ``mixeval/<release>/<mixeval|mixeval-hard>/{free-form,multiple-choice}.json`` under the data
directory (the layout of the upstream repository), JSON objects keyed by id. The newest release
(2024-08-11) is the default. Prompts follow the official ones ("Answer with the option letter from
the given choices directly.", "Answer the question shortly.", step by step for BBH, GSM8K, MATH).

Scoring differs from the official MixEval, which asks a model (GPT-3.5) to parse each reply:

- multiple-choice: the option letter from ``answers.extract_choice`` (found inside prose too), or,
  when the reply names no letter, the one option whose text the reply states; it must be the gold one.
- free-form: offline, without a parser model, a reply is right when, after lowercasing and removing
  punctuation and articles, it equals one of the targets, states the same number, or (both short)
  contains a short target as whole words. Yes/no targets take the reply's first yes/no word, option
  targets like ``(B)`` its option letter. This heuristic is stricter than the official parser: a
  right answer phrased differently from every target scores 0, so scores here run below the
  leaderboard's.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from archon_cli.answers import extract_answer, extract_choice, last_boxed, normalize_number
from archon_cli.benchmarks.base import Benchmark, Judge, Question, Response, Score
from archon_cli.benchmarks.gsm8k import as_number
from archon_cli.errors import UserError

LATEST_RELEASE = "2024-08-11"
FILES = {"free-form": "free-form.json", "multiple-choice": "multiple-choice.json"}
_ID_PREFIX = {"free-form": "ff", "multiple-choice": "mc"}

MULTIPLE_CHOICE_INSTRUCTION = "Answer with the option letter from the given choices directly."
FREE_FORM_INSTRUCTION = "Answer the question shortly."
# The official prompt for these sources asks for reasoning; our offline scorer needs a marked answer.
STEP_BY_STEP_INSTRUCTION = 'Answer the question. \nLet\'s think step by step, then end with "The answer is: ...".'
_STEP_BY_STEP_SOURCES = {"BBH", "GSM8k", "MATH"}

# How short a reply and a target must be for "the reply contains the target" to count.
SHORT_REPLY_WORDS = 30
SHORT_TARGET_WORDS = 6

_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
_PUNCTUATION = str.maketrans(dict.fromkeys(string.punctuation + "‘’“”", " "))
_LABELS = ("yes", "no", "true", "false", "valid", "invalid")
_LABEL_WORD = re.compile(r"\b(" + "|".join(_LABELS) + r")\b")
_OPTION_TARGET = re.compile(r"^\(?([A-Z])\)?$")
_ANSWER_TAIL = re.compile(r"\banswer\b[^\n.:]{0,20}?(?:\bis\b\s*:?|:)\s*(.+)", re.I | re.S)


def normalize_text(text: str) -> str:
    """Lowercase, punctuation and articles removed, whitespace collapsed (SQuAD-style)."""
    text = text.lower().translate(_PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def option_letters(count: int) -> str:
    return string.ascii_uppercase[:count]


def format_options(options: list[str]) -> str:
    return "\n".join(
        f"{letter}. {option}" for letter, option in zip(option_letters(len(options)), options, strict=False)
    )


def _has_context(context: Any) -> bool:
    return context is not None and str(context).strip().lower() not in ("", "none", "null")


def build_prompt(item: dict[str, Any]) -> str:
    """The question as the model sees it: context, prompt, lettered options, instruction."""
    parts = [str(item["context"])] if _has_context(item.get("context")) else []
    parts.append(str(item["prompt"]))
    if item.get("problem_type") == "multiple-choice":
        parts += [format_options([str(o) for o in item["options"]]), MULTIPLE_CHOICE_INSTRUCTION]
    elif item.get("benchmark_name") in _STEP_BY_STEP_SOURCES:
        parts.append(STEP_BY_STEP_INSTRUCTION)
    else:
        parts.append(FREE_FORM_INSTRUCTION)
    return "\n".join(parts)


# -- multiple choice ----------------------------------------------------------------------------


def choose_option(reply: str, options: list[str]) -> str | None:
    """The option letter the reply picks: a letter it names, else the one option it states."""
    letters = option_letters(len(options))
    letter = extract_choice(reply, letters)
    if letter is not None:
        return letter
    said = normalize_text(reply)
    if not said:
        return None
    texts = [normalize_text(o) for o in options]
    exact = [i for i, t in enumerate(texts) if t and t == said]
    if len(exact) == 1:
        return letters[exact[0]]
    contained = [i for i, t in enumerate(texts) if t and re.search(rf"\b{re.escape(t)}\b", said)]
    # Keep only the longest matches: "red" inside "dark red" is not a second choice.
    contained = [i for i in contained if not any(i != j and texts[i] in texts[j] for j in contained)]
    return letters[contained[0]] if len(contained) == 1 else None


def score_multiple_choice(reply: str, options: list[str], gold_index: int) -> tuple[bool, str | None]:
    chosen = choose_option(reply, options)
    return chosen is not None and chosen == option_letters(len(options))[gold_index], chosen


# -- free form ----------------------------------------------------------------------------------


def clean_target(target: str) -> str:
    """A GSM8K target carries its whole solution: the answer is what follows ``####``."""
    _, sep, tail = target.rpartition("####")
    return tail.strip() if sep else target.strip()


def _reply_candidates(reply: str) -> list[str]:
    """The whole reply, its last boxed expression, and what follows its last "the answer is"."""
    candidates = [reply]
    boxed = last_boxed(reply)
    if boxed:
        candidates.append(boxed)
    tails = list(_ANSWER_TAIL.finditer(reply))
    if tails:
        tail = tails[-1].group(1).strip()
        candidates.append(re.split(r"\n|\.(?:\s|$)", tail, maxsplit=1)[0])
    return candidates


def _number(text: str) -> Any:
    value = normalize_number(text)
    return as_number(value) if value is not None else None


def _first_label(text: str) -> str | None:
    m = _LABEL_WORD.search(normalize_text(text))
    return m.group(1) if m else None


def match_free_form(reply: str, targets: Iterable[str]) -> tuple[bool, str | None]:
    """Whether the reply states one of ``targets``; also the target it matched."""
    cleaned = list(dict.fromkeys(clean_target(str(t)) for t in targets if str(t).strip()))
    candidates = _reply_candidates(reply)
    said = [normalize_text(c) for c in candidates]
    final = extract_answer(reply)
    final_number = as_number(final) if final is not None else None
    for target in cleaned:
        option = _OPTION_TARGET.match(target)
        if option and len(target) > 1:  # "(B)": a lettered option inside a free-form question
            if extract_choice(reply, string.ascii_uppercase[:18]) == option.group(1):
                return True, target
            continue
        norm = normalize_text(target)
        if not norm:  # all punctuation (BBH bracket completion: "} ]"): compare the raw symbols
            raw = " ".join(target.split())
            if any(" ".join(c.split()) == raw for c in candidates):
                return True, target
            continue
        if norm in _LABELS:
            # "No, ... yes ..." must not count for both: the marked answer's first yes/no word
            # decides, else the reply's first one.
            labels = [label for c in candidates[1:] if (label := _first_label(c))]
            if (labels[-1] if labels else _first_label(reply)) == norm:
                return True, target
            continue
        if norm in said:
            return True, target
        number = _number(target)
        if number is not None:
            if number == final_number or any(_number(c) == number for c in candidates[1:]):
                return True, target
            continue  # a number must be stated as the answer, not just appear somewhere
        if len(norm.split()) <= SHORT_TARGET_WORDS:
            pattern = re.compile(rf"(?<!\w){re.escape(norm)}(?!\w)")
            for text in said:
                if len(text.split()) <= SHORT_REPLY_WORDS and pattern.search(text):
                    return True, target
    return False, None


# -- the benchmark ------------------------------------------------------------------------------


class MixEval(Benchmark):
    name = "mixeval"
    description = (
        "MixEval 2024-08-11 (2000 free-form + 1995 multiple-choice); free-form by an offline match, "
        "stricter than the official model parser"
    )
    split_folder: ClassVar[str] = "mixeval"
    hub_config: ClassVar[str] = "MixEval"
    data_files = (
        f"mixeval/{LATEST_RELEASE}/mixeval/free-form.json",
        f"mixeval/{LATEST_RELEASE}/mixeval/multiple-choice.json",
    )
    hub_id = "MixEval/MixEval"

    def __init__(self, data_dir: Path | None = None, release: str = LATEST_RELEASE) -> None:
        super().__init__(data_dir)
        self.release = release

    def _items(self, problem_type: str) -> list[tuple[str, dict[str, Any]]]:
        """(upstream id, item) pairs of one file, in id order."""
        if self.data_dir is None:
            split = problem_type.replace("-", "_")
            rows = self.hub_rows("MixEval/MixEval", split, self.hub_config)
            return [(str(row.get("id", i)), row) for i, row in enumerate(rows)]
        path = self.data_path("mixeval", self.release, self.split_folder, FILES[problem_type])
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise UserError(f"{self.name}: {path} is not valid JSON") from None
        if not isinstance(data, dict):
            raise UserError(f"{self.name}: {path} is not a JSON object keyed by id")
        # Keys are numbers as strings; numeric order keeps "10" after "9".
        return sorted(data.items(), key=lambda kv: (0, int(kv[0])) if kv[0].isdigit() else (1, kv[0]))

    def load(self) -> list[Question]:
        questions = []
        for problem_type in FILES:
            for key, item in self._items(problem_type):
                questions.append(self._question(problem_type, key, item))
        return questions

    def _question(self, problem_type: str, key: str, item: dict[str, Any]) -> Question:
        try:
            prompt = build_prompt({**item, "problem_type": problem_type})
            targets = item["target"]
            if problem_type == "multiple-choice":
                options = [str(o) for o in item["options"]]
                gold = int(targets[0] if isinstance(targets, list) else targets)
                if not 0 <= gold < len(options):
                    raise ValueError("target index outside the options")
                reference: Any = gold
                meta: dict[str, Any] = {"options": options}
            else:
                reference = [str(t) for t in (targets if isinstance(targets, list) else [targets])]
                meta = {}
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise UserError(f"{self.name}: {problem_type} item {key} is malformed ({exc})") from None
        meta.update(problem_type=problem_type, source=str(item.get("benchmark_name") or ""))
        return Question(
            id=f"{_ID_PREFIX[problem_type]}-{key}",  # keys repeat across the two files
            turns=(prompt,),
            reference=reference,
            category=problem_type,
            meta=meta,
        )

    async def score(self, question: Question, response: Response, judge: Judge | None) -> Score:
        details: dict[str, Any] = {"source": question.meta.get("source", "")}
        if question.meta.get("problem_type") == "multiple-choice":
            options = question.meta["options"]
            correct, chosen = score_multiple_choice(response.answer, options, int(question.reference))
            details.update(extracted=chosen, reference=option_letters(len(options))[int(question.reference)])
        else:
            correct, matched = match_free_form(response.answer, question.reference)
            details.update(matched=matched)
        return Score(1.0 if correct else 0.0, details)

    def aggregate(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """Accuracy per upstream source benchmark (TriviaQA, MMLU, ...), over answered questions."""
        by_source: dict[str, list[float]] = {}
        for r in records:
            if r.get("error") or r.get("score") is None:
                continue
            source = str((r.get("score_details") or {}).get("source") or "unknown")
            by_source.setdefault(source, []).append(float(r["score"]))
        return {
            "release": self.release,
            "per_source": {k: {"n": len(v), "score": float(np.mean(v))} for k, v in sorted(by_source.items())},
        }


class MixEvalHard(MixEval):
    name = "mixeval-hard"
    description = (
        "MixEval-Hard 2024-08-11 (500 free-form + 500 multiple-choice); free-form by an offline match, "
        "stricter than the official model parser"
    )
    split_folder = "mixeval-hard"
    hub_config = "MixEval_Hard"
    data_files = (
        f"mixeval/{LATEST_RELEASE}/mixeval-hard/free-form.json",
        f"mixeval/{LATEST_RELEASE}/mixeval-hard/multiple-choice.json",
    )
