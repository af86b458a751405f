"""Golden test: MT-Bench scoring against FastChat's own code (PyPI ``fschat``).

- Rating extraction: ``fastchat.llm_judge.common.run_judge_single`` on a judgment text (its call to
  the judge replaced by the text) beside ``parse_rating``.
- The score: ``fastchat.llm_judge.show_result.display_result_single`` (drops -1 ratings, averages
  all turn ratings) on the ratings of our records, beside our summary's score.

``common.py`` imports ``anthropic`` and ``fastchat.model.model_adapter`` (which pulls torch) for
judge calls these tests never make; a test-only shim stands in for both.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from archon_cli.benchmarks.judging import parse_rating
from archon_cli.evaluation.summary import summarize
from tests.benchmarks.test_mt_bench import FASTCHAT_CASES

pytest.importorskip("fastchat")


class _Conversation:
    roles = ("user", "assistant")

    def set_system_message(self, text: str) -> None:
        self.system = text

    def append_message(self, role: str, text: str | None) -> None:
        pass


@pytest.fixture(scope="module")
def common() -> Iterator[Any]:
    adapter = types.ModuleType("fastchat.model.model_adapter")
    adapter.OPENAI_MODEL_LIST = ("gpt-4",)  # type: ignore[attr-defined]
    adapter.ANTHROPIC_MODEL_LIST = ()  # type: ignore[attr-defined]
    adapter.get_conversation_template = lambda model: _Conversation()  # type: ignore[attr-defined]
    with pytest.MonkeyPatch.context() as patch:
        if "anthropic" not in sys.modules:
            patch.setitem(sys.modules, "anthropic", types.ModuleType("anthropic"))
        patch.setitem(sys.modules, "fastchat.model.model_adapter", adapter)
        patch.delitem(sys.modules, "fastchat.llm_judge.common", raising=False)
        import fastchat.llm_judge.common as module

        assert "torch" not in sys.modules
        yield module


def fastchat_rating(common: Any, judgment: str) -> float:
    common.chat_completion_openai = lambda *args, **kwargs: judgment
    judge = common.Judge(
        "gpt-4", {"prompt_template": "{question} {answer}", "system_prompt": "s", "output_format": "[[rating]]"}
    )
    rating, _, _ = common.run_judge_single({"turns": ["Q"]}, {"choices": [{"turns": ["A"]}]}, judge, None)
    return float(rating)


MORE = ["Rating: [[10]] (out of [[10]])", "[7.5] and [[2]]", "[[3]][[4]]", "[[ 8]]", "[[8.5.1]]", "[[-1]]", "[[1e3]]"]


@pytest.mark.parametrize("judgment", [text for text, _ in FASTCHAT_CASES] + MORE)
def test_rating_extraction_matches_fastchat(common: Any, judgment: str) -> None:
    official = fastchat_rating(common, judgment)
    ours = parse_rating(judgment)
    assert (ours if ours is not None else -1) == official


def test_the_score_matches_fastchats_average(tmp_path: Path) -> None:
    from fastchat.llm_judge.show_result import display_result_single

    ratings = {"81": [8.0, None], "82": [4.0, 6.0], "83": [None, None], "84": [9.0, 3.0], "85": [None, 7.0]}
    records = []
    for qid, turns in ratings.items():
        parsed = [r for r in turns if r is not None]
        score = sum(parsed) / len(parsed) if parsed else None
        details = {"ratings": turns, "weight": len(parsed), "judge_asked": 2, "judge_parsed": len(parsed)}
        records.append({"id": qid, "score": score, "error": None, "score_details": details})
    judgments = tmp_path / "gpt-4_single.jsonl"
    with judgments.open("w") as f:
        for qid, turns in ratings.items():
            for turn, rating in enumerate(turns, start=1):
                f.write(json.dumps({"question_id": int(qid), "model": "arch", "score": rating or -1, "turn": turn}) + "\n")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        display_result_single(argparse.Namespace(input_file=str(judgments), bench_name="mt_bench", model_list=None))
    official_average = float(out.getvalue().strip().splitlines()[-1].split()[-1])
    assert summarize(records)["score"] == pytest.approx(official_average)
