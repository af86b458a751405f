"""Arena-Hard: loading both versions and their baselines, the five-point verdicts in both orders,
weighted win rate and its bootstrap interval."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from archon_cli.benchmarks import get_benchmark
from archon_cli.benchmarks.arena_hard import ArenaHard, model_votes, parse_label
from archon_cli.benchmarks.base import Question, Response
from archon_cli.errors import UserError
from archon_cli.evaluation.summary import summarize
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


# get_score (lmarena/arena-hard-auto gen_judgment.py) on judgment.upper() with the config's two
# regexes: the last [[...]] match, else the last [...] match; a label outside show_result.py's
# label_to_score table is no verdict (upstream raises KeyError).
LABEL_CASES = [
    ("My final verdict is [[A>B]]", "A>B"),
    ("[[A>B]] ... [[B>A]]", "B>A"),  # the last
    ("[[A<<B]]", "A<<B"),
    ("[[a>b]]", "A>B"),  # uppercased first
    ("[A>>B]", "A>>B"),  # the single-bracket pattern when no double one
    ("[[A>>B]] and [B>A]", "A>>B"),  # the double-bracket pattern wins
    ("[[A]]", None),
    ("[[ A > B ]]", None),  # no spaces allowed
    ("My final verdict is tie: [[A=B]]", "A=B"),
    ("A is better", None),
]


@pytest.mark.parametrize(("text", "label"), LABEL_CASES)
def test_verdicts_are_read_as_the_official_get_score(text: str, label: str | None) -> None:
    assert parse_label(text) == label


async def test_two_games_with_the_official_prompts_baseline_first(bench: ArenaHard, question: Question) -> None:
    judge = ScriptedJudge("My final verdict: [[A>>B]]")
    score = await bench.score(question, response(), judge)
    assert score.value == 0.5  # baseline much better as A, the model much better as A: 3 wins, 3 losses
    assert sorted(index for _, index in judge.asked) == [0, 1]
    settings = json.loads((SHARED_DATA / "arena_hard" / "judge" / "judge_settings.json").read_text())
    config = yaml.safe_load((SHARED_DATA / "arena_hard" / "judge" / "arena-hard-v0.1.yaml").read_text())
    by_index = {index: messages for messages, index in judge.asked}
    for messages in by_index.values():
        assert messages[0] == {"role": "system", "content": settings["arena-hard-v0.1"]["system_prompt"]}
    baseline = str(question.reference)
    assert by_index[0][1]["content"] == config["prompt_template"].format(
        QUESTION=question.turns[0], ANSWER_A=baseline, ANSWER_B=MODEL
    )
    assert by_index[1][1]["content"].index(MODEL) < by_index[1][1]["content"].index(baseline[:200])
    assert score.details["labels"] == ["A>>B", "A>>B"] and score.details["weight"] == 6
    assert (score.details["judge_asked"], score.details["judge_parsed"]) == (2, 2)


def test_v2_uses_its_own_settings_per_category() -> None:
    v2 = get_benchmark("arena-hard-v2", SHARED_DATA)
    assert isinstance(v2, ArenaHard)
    question = v2.load()[0]
    settings = json.loads((SHARED_DATA / "arena_hard" / "judge" / "judge_settings.json").read_text())
    system = v2.judge_messages(question, "a", "b")[0]["content"]
    assert system == settings[question.meta["judge_category"]]["system_prompt"]
    judge = v2.official_judge()
    assert (judge.model, judge.max_tokens, judge.temperature) == ("openai/gpt-4.1", 16000, 0.0)


def test_without_the_settings_files_the_documented_judge_and_a_paraphrase(tmp_path: Path) -> None:
    bench = get_benchmark("arena-hard", tmp_path)
    assert isinstance(bench, ArenaHard)
    judge = bench.official_judge()
    assert (judge.model, judge.max_tokens) == ("openai/gpt-4-1106-preview", 4096)
    assert bench.aggregate([])["judge_prompt"].startswith("archon paraphrase")
    assert get_benchmark("arena-hard", SHARED_DATA).aggregate([])["judge_prompt"].startswith("official")


def record(qid: str, baseline_first: str | None, model_first: str | None) -> dict[str, Any]:
    votes = model_votes(baseline_first, model_first)
    details = {"labels": [baseline_first, model_first], "weight": len(votes) if votes else 0}
    return {"id": qid, "error": None, "score": sum(votes) / len(votes) if votes else None, "score_details": details}


# The official score (show_result.py load_judgments, weight 3, a question dropped unless both games
# parse; the pooled vote mean, which Bradley-Terry against the baseline equals) for tables of
# games as (label with the baseline as A, label with the model as A).
SCORE_CASES = [
    ([("B>>A", "A>>B")], 1.0),
    ([("B>>A", "B>A")], 0.75),
    ([("B>>A", "A>>B"), ("A=B", "A=B")], 0.875),  # the mean of question means says 0.75
    ([("B>A", "B>>A"), ("B>A", "A>B")], 0.5),  # the mean of question means says 0.625
    ([(None, "A>>B"), ("A>B", "B>A")], 0.0),  # the first question is dropped whole
    ([("A<<B", "B<<A")], 1.0),
    ([("B>>A", "A>>B"), ("A>B", "B>A"), ("A>B", "A=B")], 0.65),
]


@pytest.mark.parametrize(("games", "official"), SCORE_CASES)
def test_the_score_is_the_pooled_weighted_win_rate(games: list[tuple[str | None, str | None]], official: float) -> None:
    summary = summarize([record(str(i), *g) for i, g in enumerate(games)])
    assert summary["score"] == pytest.approx(official)


async def test_a_question_counts_only_when_both_games_have_a_verdict(bench: ArenaHard, question: Question) -> None:
    score = await bench.score(question, response(), ScriptedJudge(["no label here", "[[A>B]]"]))
    assert score.value is None and score.details["weight"] == 0
    assert (score.details["judge_asked"], score.details["judge_parsed"]) == (2, 1)


def test_aggregate_counts_verdicts_from_the_models_side(bench: ArenaHard) -> None:
    records = [record("1", "B>>A", "A>B"), record("2", "A=B", None), record("3", "A>B", "B<<A")]
    records.append({"id": "err", "score": None, "error": "judge failed", "score_details": {}})
    figures = bench.aggregate(records)
    assert figures["verdicts"] == {
        "strong_wins": 2, "wins": 1, "ties": 1, "losses": 1, "strong_losses": 0, "unparsed": 1,
    }  # fmt: skip
    assert figures["questions_dropped"] == 1 and figures["baseline"] == "gpt-4-0314"


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
