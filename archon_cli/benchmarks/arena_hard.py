"""Arena-Hard-Auto: hard real-user prompts, the architecture's answer judged against a baseline's.

``arena-hard`` is v0.1 (500 prompts, baseline GPT-4-0314). ``arena-hard-v2`` is v2.0: the 500 hard
prompts (coding, math) against o3-mini. Its 250 creative-writing prompts are graded upstream
against Gemini-2.0-Flash, whose answers are not in the offline data, so they are loaded only when a
``model_answer/gemini-2.0-flash-001.jsonl`` exists next to the questions.

Judged and scored as lmarena/arena-hard-auto does (``gen_judgment.py``: ``judgment``,
``pairwise_judgment``, ``get_score``; ``show_result.py``: ``load_judgments``):

- the official settings of each version, read from ``arena_hard/judge/`` under the data directory
  (judge model, temperature, max_tokens, verdict regexes, prompt template, and the system prompt
  and baseline of each question category); without them, a paraphrase of the prompt and the
  documented model and regexes, said in the summary (``judge_prompt``);
- two games per question: the baseline as A (sample 0), then the model as A (sample 1);
- a verdict is the last match of ``[[...]]`` in the uppercased judgment, else of ``[...]``; of the
  labels that can match, ``A>>B``, ``A>B``, ``A=B``, ``A<B``, ``A<<B`` and their ``B`` mirrors count
  (a decisive one three times); anything else is unparsed;
- a question counts only when both games have a verdict; its score is the mean of its votes from
  the model's side (win 1, tie 0.5, loss 0), weighted by their number, so the headline score is the
  pooled vote mean over all counted questions: the win rate against the baseline, which the
  official Bradley-Terry fit of one model against its baseline reduces to.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any, ClassVar

import yaml

from archon_cli.benchmarks.base import Benchmark, Judge, OfficialJudge, Question, Response, Score, read_jsonl
from archon_cli.benchmarks.data import data_file, field, optional_data_file
from archon_cli.errors import UserError
from archon_cli.llm.types import Message

_HUB_DATASET = "lmarena-ai/arena-hard-auto"

# show_result.py load_judgments(weight=3): each label as A's votes.
LABEL_VOTES: dict[str, list[float]] = {
    "A>B": [1.0], "A>>B": [1.0] * 3, "A=B": [0.5], "A<<B": [0.0] * 3, "A<B": [0.0],
    "B>A": [0.0], "B>>A": [0.0] * 3, "B=A": [0.5], "B<<A": [1.0] * 3, "B<A": [1.0],
}  # fmt: skip
# The official regexes (both versions' configs), used when the settings files are absent.
OFFICIAL_PATTERNS = (r"\[\[([AB<>=]+)\]\]", r"\[([AB<>=]+)\]")
# Judge model and max_tokens of config/arena-hard-v0.1.yaml and arena-hard-v2.0.yaml.
_DOCUMENTED_JUDGES = {"v0.1": ("gpt-4-1106-preview", 4096), "v2.0": ("gpt-4.1", 16000)}

# Used only when the official settings are not in the data directory (a paraphrase of their task).
FALLBACK_SYSTEM = (
    "You judge two AI assistants' answers to the same user prompt.\n"
    "1. First write your own short answer to the prompt, so you know what a good answer needs.\n"
    "2. Then assess each assistant's answer against yours: name any mistakes or inaccurate statements, "
    "and say whether the answer is helpful (does what was asked; asks for clarification when the prompt "
    "is genuinely ambiguous), relevant, and concise, and whether it leaves out something important.\n"
    "3. Do not let the order of the answers, their length, or the assistants' names influence you.\n"
    "4. End with exactly one of these labels as your final verdict:\n"
    "[[A>>B]] when Assistant A is significantly better,\n"
    "[[A>B]] when Assistant A is slightly better,\n"
    "[[A=B]] when they are about equally good,\n"
    "[[B>A]] when Assistant B is slightly better,\n"
    "[[B>>A]] when Assistant B is significantly better.\n"
    'Write it as: "My final verdict: [[A>B]]" (with your own label).'
)
FALLBACK_TEMPLATE = (
    "[User prompt]\n{QUESTION}\n[End of user prompt]\n\n"
    "[Assistant A's answer]\n{ANSWER_A}\n[End of Assistant A's answer]\n\n"
    "[Assistant B's answer]\n{ANSWER_B}\n[End of Assistant B's answer]"
)


def parse_label(text: str, patterns: tuple[str, ...] = OFFICIAL_PATTERNS) -> str | None:
    """``get_score``: for each pattern in turn, the last non-empty match in the uppercased text; a
    label that is not one of the scored ones is no verdict."""
    for pattern in patterns:
        matches = [m for m in re.findall(pattern, text.upper()) if m != ""]
        if matches:
            label = str(matches[-1]).strip("\n")
            return label if label in LABEL_VOTES else None
    return None


def model_votes(baseline_first: str | None, model_first: str | None) -> list[float] | None:
    """The model's votes from the two games (baseline as A, then model as A); None unless both
    games have a verdict (the whole question is then dropped, as load_judgments does)."""
    if baseline_first is None or model_first is None:
        return None
    return LABEL_VOTES[model_first] + [1.0 - v for v in LABEL_VOTES[baseline_first]]


def answer_text(row: dict[str, Any]) -> str | None:
    """The assistant's reply in an upstream answer row (content is text or ``{"answer": ...}``)."""
    messages = row.get("messages")
    if isinstance(messages, list) and messages:
        content = messages[-1].get("content") if isinstance(messages[-1], dict) else None
        if isinstance(content, dict):
            content = content.get("answer")
        if isinstance(content, str):
            return content
    choices = row.get("choices")  # the older upstream answer format
    if isinstance(choices, list) and choices and isinstance(choices[0].get("turns"), list):
        turn = choices[0]["turns"][0]
        return str(turn.get("content") if isinstance(turn, dict) else turn)
    return None


class ArenaHard(Benchmark):
    name = "arena-hard"
    metric = "win rate vs baseline (0-1)"
    scale = 1.0
    needs_judge = True
    version: ClassVar[str] = "v0.1"
    # Baseline per question category; a category whose baseline file is absent is not loaded
    # unless marked required.
    baselines: ClassVar[dict[str, str]] = {"arena-hard-v0.1": "gpt-4-0314"}
    required: ClassVar[frozenset[str]] = frozenset({"arena-hard-v0.1"})
    data_files = ("arena_hard/v0.1/question.jsonl", "arena_hard/v0.1/model_answer/gpt-4-0314.jsonl")
    hub_id = _HUB_DATASET

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._used_baselines: list[str] = []
        self._settings: dict[str, Any] | None = None

    def _hub_path(self, *parts: str) -> str:
        return "/".join(("data", f"arena-hard-{self.version}", *parts))

    # -- the official judge settings ---------------------------------------------------------------

    def judge_settings(self) -> dict[str, Any]:
        """The version's config (judge_model, temperature, max_tokens, regex_patterns,
        prompt_template) and the per-category system prompts, from ``arena_hard/judge/``; the
        documented judge with a paraphrased prompt when the files are absent (``official`` False)."""
        if self._settings is None:
            folder = self.data_dir / "arena_hard" / "judge" if self.data_dir else None
            config_path = folder / f"arena-hard-{self.version}.yaml" if folder else None
            categories_path = folder / "judge_settings.json" if folder else None
            if config_path and categories_path and config_path.exists() and categories_path.exists():
                try:
                    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
                    categories = json.loads(categories_path.read_text(encoding="utf-8"))
                    self._settings = {
                        "official": True,
                        "judge_model": str(config["judge_model"]),
                        "temperature": float(config["temperature"]),
                        "max_tokens": int(config["max_tokens"]),
                        "patterns": tuple(str(p) for p in config["regex_patterns"]),
                        "template": str(config["prompt_template"]),
                        "system": {k: str(v["system_prompt"]) for k, v in categories.items()},
                    }
                except (yaml.YAMLError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                    raise UserError(f"{self.name}: cannot read the judge settings in {folder} ({exc})") from None
            else:
                model, max_tokens = _DOCUMENTED_JUDGES[self.version]
                self._settings = {
                    "official": False,
                    "judge_model": model,
                    "temperature": 0.0,
                    "max_tokens": max_tokens,
                    "patterns": OFFICIAL_PATTERNS,
                    "template": FALLBACK_TEMPLATE,
                    "system": {},
                }
        return self._settings

    def official_judge(self) -> OfficialJudge:
        settings = self.judge_settings()
        return OfficialJudge(
            f"openai/{settings['judge_model']}",
            "OPENAI_API_KEY",
            settings["max_tokens"],
            settings["temperature"],
            f"arena-hard-auto config/arena-hard-{self.version}.yaml",
        )

    def judge_messages(self, question: Question, answer_a: str, answer_b: str) -> list[Message]:
        """The judgment of answers A and B with the question category's official system prompt."""
        settings = self.judge_settings()
        system = settings["system"].get(question.meta.get("judge_category", ""), FALLBACK_SYSTEM)
        user = settings["template"].format(QUESTION=question.turns[0], ANSWER_A=answer_a, ANSWER_B=answer_b)
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    # -- data ----------------------------------------------------------------------------------------

    def load(self) -> list[Question]:
        questions_path = data_file(
            self, ("arena_hard", self.version, "question.jsonl"), _HUB_DATASET, self._hub_path("question.jsonl")
        )
        rows = read_jsonl(questions_path, self.name)
        answers: dict[str, dict[str, str]] = {}
        for category, model in self.baselines.items():
            local = ("arena_hard", self.version, "model_answer", f"{model}.jsonl")
            hub = self._hub_path("model_answer", f"{model}.jsonl")
            path = (
                data_file(self, local, _HUB_DATASET, hub)
                if category in self.required
                else optional_data_file(self, local, _HUB_DATASET, hub)
            )
            if path is not None:
                answers[category] = {
                    str(r["uid"]): text
                    for r in read_jsonl(path, self.name)
                    if "uid" in r and (text := answer_text(r)) is not None
                }
        self._used_baselines = sorted(self.baselines[c] for c in answers)
        questions, missing = [], []
        for index, row in enumerate(rows):
            where = f"question.jsonl row {index + 1}"
            uid = str(field(row, "uid", self.name, where))
            category = str(field(row, "category", self.name, where))
            prompt = field(row, "prompt", self.name, where)
            if category not in answers:
                continue  # no baseline for this category (v2.0 creative writing offline)
            baseline = answers[category].get(uid)
            if baseline is None:
                missing.append(uid)
                continue
            questions.append(
                Question(
                    id=uid,
                    turns=(str(prompt),),
                    reference=baseline,
                    category=str(row.get("subcategory") or category),
                    meta={
                        "baseline": self.baselines[category],
                        "judge_category": category,
                        "cluster": str(row.get("cluster") or ""),
                    },
                )
            )
        if missing:
            raise UserError(f"{self.name}: the baseline answers lack {len(missing)} question(s), e.g. uid {missing[0]}")
        return questions

    # -- scoring ---------------------------------------------------------------------------------------

    async def score(self, question: Question, response: Response, judge: Judge | None) -> Score:
        if judge is None:
            raise UserError(f"{self.name} needs a judge model (--judge)")
        baseline, answer = str(question.reference), response.answer
        patterns = self.judge_settings()["patterns"]
        baseline_first, model_first = await asyncio.gather(
            judge.ask(self.judge_messages(question, baseline, answer), sample_index=0),
            judge.ask(self.judge_messages(question, answer, baseline), sample_index=1),
        )
        labels = [parse_label(baseline_first, patterns), parse_label(model_first, patterns)]
        votes = model_votes(labels[0], labels[1])
        return Score(
            sum(votes) / len(votes) if votes else None,
            {
                "labels": labels,  # game 1: baseline as A; game 2: the model as A
                "weight": len(votes) if votes else 0,
                "judge_asked": 2,
                "judge_parsed": sum(label is not None for label in labels),
                "model_length": len(answer),
                "baseline_length": len(baseline),
                "judgments": [baseline_first, model_first],
            },
        )

    def aggregate(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """How the verdicts fell (labels from the model's side), questions dropped for an
        unparsed game, the baseline and where the judge prompt came from."""
        counts = {"strong_wins": 0, "wins": 0, "ties": 0, "losses": 0, "strong_losses": 0, "unparsed": 0}
        dropped = 0
        for record in records:
            details = record.get("score_details") or {}
            labels = details.get("labels")
            if record.get("error") or not labels:
                continue
            dropped += record.get("score") is None
            for game, label in enumerate(labels):
                if label is None:
                    counts["unparsed"] += 1
                    continue
                votes = LABEL_VOTES[label] if game == 1 else [1.0 - v for v in LABEL_VOTES[label]]
                kind = "wins" if votes[0] == 1.0 else "losses" if votes[0] == 0.0 else "ties"
                counts[f"strong_{kind}" if len(votes) == 3 else kind] += 1
        settings = self.judge_settings()
        return {
            "baseline": ", ".join(self._used_baselines or sorted(self.baselines.values())),
            "verdicts": counts,
            "questions_dropped": dropped,
            "judge_prompt": "official (arena_hard/judge/)" if settings["official"] else "archon paraphrase "
            "(the official settings are not under the data directory)",
        }


class ArenaHardV2(ArenaHard):
    name = "arena-hard-v2"
    version = "v2.0"
    baselines: ClassVar[dict[str, str]] = {
        "hard_prompt": "o3-mini-2025-01-31",
        "creative_writing": "gemini-2.0-flash-001",
    }
    required = frozenset({"hard_prompt"})
    data_files = ("arena_hard/v2.0/question.jsonl", "arena_hard/v2.0/model_answer/o3-mini-2025-01-31.jsonl")
