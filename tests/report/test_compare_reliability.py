"""`archon compare` marks a judge-based run whose verdicts were mostly unreadable, and compares runs
on the questions both scored (a question without a verdict is left out, not a 0)."""

from __future__ import annotations

import json
from pathlib import Path

from archon_cli.evaluation.run_folder import load_result
from archon_cli.report.compare import compare_runs, format_row, screen_runs


def judged_run(root: Path, name: str, scores: dict[str, float | None], parsed: int) -> Path:
    """An mt-bench run folder whose judge read ``parsed`` of 2 verdicts per question."""
    folder = root / name
    folder.mkdir(parents=True)
    info = {"kind": "eval", "run_id": name, "architecture": name, "benchmark": "mt-bench", "metric": "mt-bench score",
            "scale": 10.0, "split": "dev", "judge": "local/smollm2-135m", "question_ids": list(scores)}  # fmt: skip
    (folder / "run.json").write_text(json.dumps(info), encoding="utf-8")
    with (folder / "questions.jsonl").open("w", encoding="utf-8") as f:
        for qid, score in scores.items():
            details = {"judge_asked": 2, "judge_parsed": parsed if score is not None else 0, "weight": 2}
            record = {"id": qid, "category": "writing", "answer": "an answer", "score": score, "error": None, "score_details": details,
                      "calls": 2, "cache_hits": 0, "retries": 0, "latency": 0.1}  # fmt: skip
            f.write(json.dumps(record) + "\n")
    (folder / "summary.json").write_text(json.dumps({"complete": True}), encoding="utf-8")
    return folder


def test_an_unreliable_run_is_marked_and_unscored_questions_are_not_paired(tmp_path: Path) -> None:
    good = judged_run(tmp_path, "good", {"1": 8.0, "2": 6.0, "3": 7.0}, parsed=2)
    weak = judged_run(tmp_path, "weak", {"1": 5.0, "2": None, "3": None}, parsed=1)
    runs, warnings = screen_runs(load_result(good) + load_result(weak))
    assert any("weak" in w and "unreliable" in w for w in warnings)
    comparison = compare_runs(runs)
    rows = {row["label"]: row for row in comparison.rows}
    assert rows["good"]["reliable"] is True and rows["weak"]["reliable"] is False
    assert "UNRELIABLE" in format_row(rows["weak"])[2] and "UNRELIABLE" not in format_row(rows["good"])[2]
    assert rows["weak"]["score"] == 5.0  # the unscored questions are left out, not counted 0
    (pair,) = comparison.pairs
    assert pair["shared_questions"] == 1  # only question 1 has a score in both runs
