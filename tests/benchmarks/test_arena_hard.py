"""Arena-Hard: loading both versions and their baselines, the five-point verdicts in both orders,
weighted win rate and its bootstrap interval."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from archon_cli.benchmarks import get_benchmark
from archon_cli.benchmarks.arena_hard import ArenaHard, bootstrap_win_rate, weighted_win_rate
from archon_cli.benchmarks.base import Question, Response
from archon_cli.benchmarks.judging import parse_arena_verdict
from archon_cli.errors import ArchonError, UserError
from tests.conftest import SHARED_DATA
from tests.fakes import ScriptedJudge

MODEL = "MODEL-ANSWER-TEXT"


@pytest.fixture(scope="module")
def bench() -> ArenaHard:
    benchmark = get_benchmark("arena-hard", SHARED_DATA)
    assert isinstance(benchmark, ArenaHard)
    return benchmark


@pytest.fixture(scope="module")
def question(bench: ArenaHard) -> Question:
    return bench.load()[0]


def response() -> Response:
    return Response(answers=[MODEL], results=[])


def test_v01_loads_500_prompts_with_the_gpt4_baseline(bench: ArenaHard, question: Question) -> None:
    questions = bench.load()
    assert len(questions) == len({q.id for q in questions}) == 500
    assert question.id == "328c149ed45a41c0b9d6f14659e63599"
    assert "ABC notation" in question.turns[0]
    assert isinstance(question.reference, str) and len(question.reference) > 100
    assert question.meta["baseline"] == "gpt-4-0314"


def test_v2_loads_the_hard_prompts_and_skips_creative_writing_without_its_baseline() -> None:
    questions = get_benchmark("arena-hard-v2", SHARED_DATA).load()
    assert len(questions) == 500
    assert {q.category for q in questions} == {"coding", "math"}
    assert {q.meta["baseline"] for q in questions} == {"o3-mini-2025-01-31"}


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def answer_row(uid: str, text: str) -> dict[str, Any]:
    return {
        "uid": uid,
        "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": {"answer": text}}],
    }


def test_v2_creative_writing_loads_once_its_baseline_exists(tmp_path: Path) -> None:
    root = tmp_path / "arena_hard" / "v2.0"
    write_jsonl(
        root / "question.jsonl",
        [
            {"uid": "h1", "category": "hard_prompt", "subcategory": "coding", "prompt": "code it"},
            {"uid": "c1", "category": "creative_writing", "subcategory": "creative_writing", "prompt": "a poem"},
        ],
    )
    write_jsonl(root / "model_answer" / "o3-mini-2025-01-31.jsonl", [answer_row("h1", "o3"), answer_row("c1", "o3")])
    bench = get_benchmark("arena-hard-v2", tmp_path)
    assert [(q.id, q.reference) for q in bench.load()] == [("h1", "o3")]
    write_jsonl(root / "model_answer" / "gemini-2.0-flash-001.jsonl", [answer_row("c1", "gemini")])
    assert [(q.id, q.reference) for q in bench.load()] == [("h1", "o3"), ("c1", "gemini")]


def test_missing_baseline_answers_are_a_user_error(tmp_path: Path) -> None:
    root = tmp_path / "arena_hard" / "v0.1"
    write_jsonl(root / "question.jsonl", [{"uid": "u1", "category": "arena-hard-v0.1", "prompt": "p"}])
    with pytest.raises(UserError, match=r"model_answer/gpt-4-0314\.jsonl"):
        get_benchmark("arena-hard", tmp_path).load()
    write_jsonl(root / "model_answer" / "gpt-4-0314.jsonl", [answer_row("other", "x")])
    with pytest.raises(UserError, match="lack 1 question"):
        get_benchmark("arena-hard", tmp_path).load()


@pytest.mark.parametrize(
    ("text", "advantage"),
    [
        ("My final verdict: [[A>>B]]", 2),
        ("My final verdict is [[A>B]].", 1),
        ("[[A=B]]", 0),
        ("[[B>A]]", -1),
        ("verdict: [[ B>>A ]]", -2),
        ("A is better", None),
        ("[[A>B]] or maybe [[B>A]]", None),  # contradictory: no verdict
    ],
)
def test_parse_arena_verdict(text: str, advantage: int | None) -> None:
    assert parse_arena_verdict(text) == advantage


async def test_both_orders_are_asked_and_position_bias_cancels(bench: ArenaHard, question: Question) -> None:
    judge = ScriptedJudge("My final verdict: [[A>>B]]")
    score = await bench.score(question, response(), judge)
    assert score.value == 0.5  # strong win as A, strong loss as B
    assert [index for _, index in judge.asked] == [0, 1]
    first, second = judge.user_prompts()
    assert first.index("Assistant A's answer") < first.index(MODEL) < first.index("Assistant B's answer")
    assert second.index("Assistant B's answer") < second.index(MODEL)
    assert str(question.reference)[:200] in second.split("Assistant B's answer")[0]
    assert score.details["games"] == [
        {"model_position": "A", "advantage": 2},
        {"model_position": "B", "advantage": -2},
    ]


async def test_strong_verdicts_weigh_three_times_and_ties_count_half(bench: ArenaHard, question: Question) -> None:
    # Model as A: strong win (weight 3); model as B: the baseline (A) slightly better (weight 1).
    score = await bench.score(question, response(), ScriptedJudge(["[[A>>B]]", "[[A>B]]"]))
    assert score.value == pytest.approx(0.75)
    tie = await bench.score(question, response(), ScriptedJudge("[[A=B]]"))
    assert tie.value == 0.5


async def test_unparseable_judgments_are_left_out_or_make_an_error(bench: ArenaHard, question: Question) -> None:
    score = await bench.score(question, response(), ScriptedJudge(["no label here", "[[B>A]]"]))
    assert score.value == 1.0  # only the second judgment counts: the model (B) is better
    assert score.details["parse_failures"] == 1
    with pytest.raises(ArchonError, match="no verdict"):
        await bench.score(question, response(), ScriptedJudge("I cannot tell."))


def games(*advantages: int | None) -> list[dict[str, Any]]:
    return [{"model_position": "A", "advantage": a} for a in advantages]


def test_weighted_win_rate_and_bootstrap_interval() -> None:
    table = [games(2, 1), games(-1, -1), games(0, None), games(1, 0)]
    # wins: 3 + 1 + 0 + 0 + 0.5 + 1 + 0.5 = 6 over weights 3 + 1 + 1 + 1 + 1 + 1 + 1 = 9
    assert weighted_win_rate(table) == pytest.approx(6 / 9)
    low, high = bootstrap_win_rate(table * 10, seed=1)
    assert low < 6 / 9 < high
    assert (low, high) == bootstrap_win_rate(table * 10, seed=1)  # seeded: reproducible


def test_aggregate_adds_win_rate_ci_and_verdict_counts(bench: ArenaHard) -> None:
    records = [
        {"id": str(i), "score": 0.5, "error": None, "score_details": {"games": g}}
        for i, g in enumerate([games(2, -1), games(1, 1), games(0, None)] * 5)
    ]
    records.append({"id": "err", "score": None, "error": "judge failed", "score_details": {}})
    figures = bench.aggregate(records)
    assert figures["win_rate"] == pytest.approx((3 + 0 + 1 + 1 + 0.5) / 7)
    low, high = figures["win_rate_ci95"]
    assert low <= figures["win_rate"] <= high
    assert figures["win_rate_questions"] == 15
    assert figures["verdicts"] == {
        "strong_wins": 5, "wins": 10, "ties": 5, "losses": 5, "strong_losses": 0, "unparsed": 5,
    }  # fmt: skip
    assert figures["baseline"] == "gpt-4-0314"


def test_without_a_data_dir_the_files_come_from_the_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hub path: same files under the upstream layout; a 404 for an optional baseline skips its
    category, and an unreachable hub is a one-line UserError."""
    import httpx2
    import huggingface_hub
    from huggingface_hub.errors import RemoteEntryNotFoundError

    files = {
        "data/arena-hard-v2.0/question.jsonl": [
            {"uid": "h1", "category": "hard_prompt", "subcategory": "math", "prompt": "p"},
            {"uid": "c1", "category": "creative_writing", "subcategory": "creative_writing", "prompt": "poem"},
        ],
        "data/arena-hard-v2.0/model_answer/o3-mini-2025-01-31.jsonl": [answer_row("h1", "o3")],
    }
    asked: list[tuple[str, str, str]] = []

    def fake_download(repo_id: str, filename: str, repo_type: str) -> str:
        asked.append((repo_id, filename, repo_type))
        if filename not in files:
            response = httpx2.Response(404, request=httpx2.Request("HEAD", f"https://hub/{filename}"))
            raise RemoteEntryNotFoundError("404", response=response)
        path = tmp_path / filename
        write_jsonl(path, files[filename])
        return str(path)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    questions = get_benchmark("arena-hard-v2").load()
    assert [(q.id, q.reference) for q in questions] == [("h1", "o3")]
    assert {(repo, kind) for repo, _, kind in asked} == {("lmarena-ai/arena-hard-auto", "dataset")}
    assert "data/arena-hard-v2.0/model_answer/gemini-2.0-flash-001.jsonl" in {name for _, name, _ in asked}

    def unreachable(**_kw: str) -> str:
        raise OSError("no network")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", unreachable)
    with pytest.raises(UserError, match=r"could not download .* --data-dir"):
        get_benchmark("arena-hard").load()
