"""MixEval and MixEval-Hard: questions drawn from many benchmarks, free-form and multiple-choice.

Data: ``mixeval/<release>/<mixeval|mixeval-hard>/{free-form,multiple-choice}.json`` under the data
directory (the layout of the upstream repository), JSON objects keyed by id. The newest release
(2024-08-11) is the default. Prompts follow the official ones ("Answer with the option letter from
the given choices directly.", "Answer the question shortly.", step by step for BBH, GSM8K, MATH).

Replies are parsed as Psycoy/MixEval does (``mix_eval/utils/metric_utils.py``). Its default parser
is a model (GPT-3.5-Turbo-0125); its rule parser is the alternative, and the offline default here:

- multiple choice (``parse_multi_choice_response_rule``): the first occurrence in the reply of a
  letter in one of 13 literal forms (" B ", "(B)", "**B. ", ...), else, in replies longer than five
  words, the first occurrence of an option's text; when nothing matches, a random letter (seeded by
  the question, so a rerun agrees), recorded as ``parsed_by: "random"``;
- free form (``parse_freeform_response_rule``, ``eval_freeform_rule``): the reply's key phrases
  (the shortest tail after "so ", "is ", "answer ", ... on each line) and the numbers in them,
  lowercased; right when a target is a substring of a phrase, or a number equals a target number
  (to two decimals). No word boundaries: "Either Zambia or Malawi" contains "zambia".

With ``--judge MODEL`` the model parser is used instead, as officially: the judge names the chosen
letter as ``[[X]]``, or grades a free-form reply against the targets from 0.0 to 1.0 as
``[[score]]`` (so a free-form score can be fractional); a judgment without one falls back to a
random letter or a random grade, as officially after its retries. (The prompts are archon's,
asking for the same outputs.) The official final score is the mean of the free-form and the
multiple-choice means (``official_score``); the headline is the mean over all questions, the same
within a fraction of a point when both halves are evaluated.
"""

from __future__ import annotations

import json
import random
import re
import string
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from archon_cli.benchmarks.base import Benchmark, Judge, OfficialJudge, Question, Response, Score
from archon_cli.errors import UserError
from archon_cli.llm.types import Message

LATEST_RELEASE = "2024-08-11"
FILES = {"free-form": "free-form.json", "multiple-choice": "multiple-choice.json"}
_ID_PREFIX = {"free-form": "ff", "multiple-choice": "mc"}

MULTIPLE_CHOICE_INSTRUCTION = "Answer with the option letter from the given choices directly."
FREE_FORM_INSTRUCTION = "Answer the question shortly."
# The official prompt for these sources asks for reasoning; the rule parser needs a marked answer ("is ...").
STEP_BY_STEP_INSTRUCTION = 'Answer the question. \nLet\'s think step by step, then end with "The answer is: ...".'
_STEP_BY_STEP_SOURCES = {"BBH", "GSM8k", "MATH"}


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


# -- the official rule parsers (metric_utils.py) --------------------------------------------------

_STRIPPED = (",", ".", "!", "?", ";", ":", "'")
# The 13 literal forms of a letter, in the official order.
_LETTER_FORMS = (
    " {} ", " {}\n", "\n{} ", "\n{}\n", " {}. ", " {}.\n", "\n{}. ", "\n{}.\n",
    "({})", "**{} ", " {}**", "**{}. ", " {}.**",
)  # fmt: skip


def _occurrences(text: str, part: str) -> list[int]:
    """Start of each non-overlapping occurrence of ``part`` (find_all_sub)."""
    return [m.start() for m in re.finditer(re.escape(part), text)]


def parse_choice_rule(reply: str, options: list[str], rng: random.Random) -> tuple[str, str]:
    """``parse_multi_choice_response_rule``: the chosen letter and how it was found ("rule",
    "option text" or "random")."""
    letters = option_letters(len(options))
    for char in _STRIPPED:
        reply = reply.strip(char)
    padded = f" {reply} "
    found = [(i, letter) for letter in letters for form in _LETTER_FORMS for i in _occurrences(padded, form.format(letter))]
    how = "rule"
    if not found and len(padded.split()) > 5:
        lowered = padded.lower()
        found = [(i, letter) for letter, text in zip(letters, options, strict=True) for i in _occurrences(lowered, text.lower())]
        how = "option text"
    if not found:
        return rng.choice(letters), "random"
    first = min(i for i, _ in found)
    return next(letter for i, letter in found if i == first), how


def chosen_letter(reply: str, options: list[str]) -> str | None:
    """The letter the rule parser finds in ``reply``, None where only a random pick would give
    one: what a majority vote on a multiple-choice question counts."""
    letter, how = parse_choice_rule(reply, options, random.Random(0))
    return None if how == "random" else letter


_KEY_INDICATORS = ("could be ", "so ", "is ", "thus ", "therefore ", "final ", "answer ", "result ")
_TRIVIAL = {":", ",", ".", "!", "?", ";", "'"}
_NUMBER_COMMAS = re.compile(r"-?\b\d{1,3}(?:,\d{3})+\b")
_NUMBER_SCIENTIFIC = re.compile(r"-?\d+(?:\.\d+)?[eE][+-]?\d+")
_NUMBER_SIMPLE = re.compile(r"-?(?:\d+\.\d+|\.\d+|\d+\b)(?![eE][+-]?\d+)(?![,\d])")


def key_phrases(reply: str) -> list[str]:
    """``get_key_subresponses``: per line, the shortest tail after a key indicator ("=" counts on the
    last line only); the whole (lowercased) reply when no line has one."""
    text = reply.strip().strip(".").lower()
    pieces = re.split(r"\.\s(?=[A-Z])|\n", text)
    keys = []
    for index, piece in enumerate(pieces):
        indicators = (*_KEY_INDICATORS, "=") if index == len(pieces) - 1 else _KEY_INDICATORS
        shortest: str | None = None
        for indicator in indicators:
            if indicator in piece:
                tail = piece.split(indicator)[-1].strip()
                if not shortest or len(tail) < len(shortest):
                    shortest = tail
        if shortest and shortest.strip() not in _TRIVIAL:
            keys.append(shortest)
    return keys or [text]


def numbers_in(text: str) -> list[str]:
    """``extract_numbers``: comma-grouped, scientific, then plain numbers."""
    return _NUMBER_COMMAS.findall(text) + _NUMBER_SCIENTIFIC.findall(text) + _NUMBER_SIMPLE.findall(text)


def normalize_answer(text: str) -> list[str | float]:
    """``normalize_str``: a number (commas dropped) rounded to 2 decimals; else lowercased text, a
    single character padded with a space on either side."""
    text = text.strip()
    try:
        return [round(float(text.replace(",", "")), 2)]
    except ValueError:
        pass
    text = text.lower()
    return [" " + text, text + " "] if len(text) == 1 else [text]


def free_form_predictions(reply: str) -> list[str | float]:
    """``parse_freeform_response_rule``: the normalised key phrases and the numbers in them."""
    keys = key_phrases(reply)
    found = keys + [n for key in keys for n in numbers_in(key)]
    predictions: list[str | float] = []
    for item in found:
        for value in normalize_answer(item):
            if value not in predictions:
                predictions.append(value)
    return predictions


def free_form_correct(targets: list[str], predictions: list[str | float]) -> bool:
    """``eval_freeform_rule``: a text target inside a text prediction, or equal numbers."""
    golds = [g for target in targets for g in normalize_answer(target)]
    for prediction in predictions:
        if isinstance(prediction, str):
            if any(isinstance(g, str) and g in prediction for g in golds):
                return True
        elif prediction in golds:
            return True
    return False


# -- the model parser (--judge) ----------------------------------------------------------------------

_CHOICE_SYSTEM = "You read a model's answer to a multiple-choice question and report which option it chose."
_GRADE_SYSTEM = "You grade a model's short answer to a question against the correct answers."
_DOUBLE_LETTER, _SINGLE_LETTER = re.compile(r"\[\[([A-Z])\]\]"), re.compile(r"\[([A-Z])\]")
_DOUBLE_SCORE, _SINGLE_SCORE = re.compile(r"\[\[(\d+(?:\.\d+)?)\]\]"), re.compile(r"\[(\d+(?:\.\d+)?)\]")


def choice_messages(prompt: str, options: list[str], reply: str) -> list[Message]:
    user = (
        f"Question: {prompt}\nOptions:\n{format_options(options)}\nModel's answer: {reply}\n\n"
        "Which option does the model's answer choose? Reply with its letter in double brackets, "
        "for example [[B]]."
    )
    return [{"role": "system", "content": _CHOICE_SYSTEM}, {"role": "user", "content": user}]


def grade_messages(prompt: str, targets: list[str], reply: str) -> list[Message]:
    answers = "; ".join(f"<answer {i + 1}> {t}" for i, t in enumerate(targets))
    user = (
        f"Question: {prompt}\nCorrect answers: {answers}\nModel's answer: {reply}\n\n"
        "How correct is the model's answer? Give a score from 0.0 (wrong) to 1.0 (right), in steps "
        "of 0.1, in double brackets, for example [[0.7]]."
    )
    return [{"role": "system", "content": _GRADE_SYSTEM}, {"role": "user", "content": user}]


def judged_letter(judgment: str) -> str | None:
    """``get_option_from_judge``: the first [[X]], else the first [X]."""
    match = _DOUBLE_LETTER.search(judgment) or _SINGLE_LETTER.search(judgment)
    return match.group(1) if match else None


def judged_grade(judgment: str) -> float | None:
    """``get_score_from_judge``: the first [[n]], else the first [n], kept when within [0, 1]."""
    match = _DOUBLE_SCORE.search(judgment) or _SINGLE_SCORE.search(judgment)
    if not match:
        return None
    value = float(match.group(1))
    return value if 0.0 <= value <= 1.0 else None


# -- the benchmark ------------------------------------------------------------------------------


class MixEval(Benchmark):
    name = "mixeval"
    split_folder: ClassVar[str] = "mixeval"
    hub_config: ClassVar[str] = "MixEval"
    data_files = (
        f"mixeval/{LATEST_RELEASE}/mixeval/free-form.json",
        f"mixeval/{LATEST_RELEASE}/mixeval/multiple-choice.json",
    )
    hub_id = "MixEval/MixEval"
    judge_optional = True

    def __init__(self, data_dir: Path | None = None, release: str = LATEST_RELEASE) -> None:
        super().__init__(data_dir)
        self.release = release

    def official_judge(self) -> OfficialJudge:
        return OfficialJudge(
            "openai/gpt-3.5-turbo-0125", "OPENAI_API_KEY", 999, 0.0, "MixEval compute_metrics.py (model parser)"
        )

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
            meta["prompt"] = str(item["prompt"])  # the model parser sees the prompt alone
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

    def answer_key(self, question: Question) -> Callable[[str], str | None] | None:
        """A multiple-choice question's vote counts the letters the rule parser reads."""
        if question.meta.get("problem_type") != "multiple-choice":
            return None
        return partial(chosen_letter, options=question.meta["options"])

    async def score(self, question: Question, response: Response, judge: Judge | None) -> Score:
        """The official rule parser, or the model parser when a judge is given (see the module docstring)."""
        rng = random.Random(f"mixeval:{question.id}")  # the fallback: random, and the same on a rerun
        reply = response.answer
        details: dict[str, Any] = {"source": question.meta.get("source", ""), "problem_type": question.category}
        prompt = str(question.meta.get("prompt") or question.turns[0])
        if question.meta.get("problem_type") == "multiple-choice":
            options = question.meta["options"]
            gold = option_letters(len(options))[int(question.reference)]
            if judge is None:
                letter, how = parse_choice_rule(reply, options, rng)
            else:
                judgment = await judge.ask(choice_messages(prompt, options, reply))
                found = judged_letter(judgment)
                letter, how = (found, "model") if found else (rng.choice(option_letters(len(options))), "random")
                details.update(judge_asked=1, judge_parsed=int(found is not None), judgment=judgment)
            details.update(extracted=letter, reference=gold, parsed_by=how)
            return Score(1.0 if letter == gold else 0.0, details)
        targets = list(question.reference)
        if judge is None:
            predictions = free_form_predictions(reply)
            details.update(predictions=[str(p) for p in predictions][:20], parsed_by="rule")
            return Score(1.0 if free_form_correct(targets, predictions) else 0.0, details)
        judgment = await judge.ask(grade_messages(prompt, targets, reply))
        grade = judged_grade(judgment)
        details.update(judge_asked=1, judge_parsed=int(grade is not None), judgment=judgment)
        details["parsed_by"] = "model" if grade is not None else "random"
        return Score(grade if grade is not None else round(rng.random(), 1), details)

    def aggregate(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """Accuracy per upstream source benchmark (TriviaQA, MMLU, ...) and per problem type over
        answered questions, the official final score (the mean of the two type means), the parser,
        and how many replies only a random pick scored."""
        by_source: dict[str, list[float]] = {}
        by_type: dict[str, list[float]] = {}
        random_picks = 0
        for r in records:
            if r.get("error") or r.get("score") is None:
                continue
            details = r.get("score_details") or {}
            by_source.setdefault(str(details.get("source") or "unknown"), []).append(float(r["score"]))
            by_type.setdefault(str(details.get("problem_type") or r.get("category") or "?"), []).append(float(r["score"]))
            random_picks += details.get("parsed_by") == "random"
        type_means = {k: float(np.mean(v)) for k, v in sorted(by_type.items())}
        return {
            "release": self.release,
            "per_source": {k: {"n": len(v), "score": float(np.mean(v))} for k, v in sorted(by_source.items())},
            "per_problem_type": type_means,
            "official_score": float(np.mean(list(type_means.values()))) if type_means else None,
            "parser": "model (--judge)" if any("judge_asked" in (r.get("score_details") or {}) for r in records)
            else "rule (offline; the official default is a GPT-3.5 model parser)",
            "random_picks": random_picks,
        }


class MixEvalHard(MixEval):
    name = "mixeval-hard"
    split_folder = "mixeval-hard"
    hub_config = "MixEval_Hard"
    data_files = (
        f"mixeval/{LATEST_RELEASE}/mixeval-hard/free-form.json",
        f"mixeval/{LATEST_RELEASE}/mixeval-hard/multiple-choice.json",
    )
