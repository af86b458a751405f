"""`archon compare` from the command line: result folders (real and synthetic), search folders,
refusals with one-line errors, JSON, report.md, and the plots (800 x 500 px PNG)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from archon_cli.report.plots import HEIGHT_PX, WIDTH_PX
from tests.conftest import assert_user_error, run_cli

CATEGORIES = ("addition", "subtraction", "comparison")


def make_run(
    root: Path,
    name: str,
    scores: dict[str, float],
    *,
    benchmark: str = "tiny-arith",
    split: str = "dev",
    calls: int = 1,
    question_ids: list[str] | None = None,
    complete: bool = True,
    kind: str = "eval",
) -> Path:
    """A run folder as `archon eval` writes it, with the given per-question scores."""
    folder = root / name
    folder.mkdir(parents=True)
    ids = question_ids if question_ids is not None else list(scores)
    info = {
        "kind": kind,
        "run_id": name,
        "architecture": name,
        "static_calls": calls,
        "benchmark": benchmark,
        "metric": "accuracy",
        "scale": 1.0,
        "split": split,
        "seed": 0,
        "limit": None,
        "judge": None,
        "question_ids": ids,
    }
    (folder / "run.json").write_text(json.dumps(info), encoding="utf-8")
    with (folder / "questions.jsonl").open("w", encoding="utf-8") as f:
        for i, (qid, score) in enumerate(scores.items()):
            record = {
                "id": qid,
                "category": CATEGORIES[i % 3],
                "answer": "x",
                "score": score,
                "error": None,
                "calls": calls,
                "cache_hits": 0,
                "retries": 0,
                "prompt_tokens": 40 * calls,
                "completion_tokens": 10 * calls,
                "cost": 0.001 * calls,
                "judge_calls": 0,
                "latency": 0.1 * calls,
            }
            f.write(json.dumps(record) + "\n")
    (folder / "summary.json").write_text(json.dumps({"complete": complete}), encoding="utf-8")
    return folder


def flipped(scores: dict[str, float], n: int) -> dict[str, float]:
    """The same scores with the first ``n`` correct answers turned wrong."""
    out = dict(scores)
    for qid in [q for q, s in scores.items() if s == 1.0][:n]:
        out[qid] = 0.0
    return out


def base_scores(n: int = 100) -> dict[str, float]:
    return {f"q{i:03d}": (1.0 if i % 5 != 0 else 0.0) for i in range(n)}  # 80% correct


def assert_png(path: Path) -> None:
    """A real image of the documented size with something drawn on it."""
    from matplotlib.image import imread

    assert path.suffix == ".png" and path.stat().st_size > 1000, path
    image = imread(path)
    assert image.shape[:2] == (HEIGHT_PX, WIDTH_PX), (path, image.shape)
    assert image[..., :3].std() > 0.01, f"{path} is blank"


# -- refusals ----------------------------------------------------------------------------------------


def test_runs_on_different_benchmarks_or_splits_are_not_mixed(tmp_path: Path) -> None:
    a = make_run(tmp_path, "arith-run", base_scores(10))
    b = make_run(tmp_path, "gsm-run", base_scores(10), benchmark="gsm8k")
    c = make_run(tmp_path, "arith-test-run", base_scores(10), split="test")
    result = run_cli("compare", str(a), str(b), "--results-dir", str(tmp_path))
    assert_user_error(result, "different benchmarks")
    assert "tiny-arith (dev): arith-run" in result.stderr and "gsm8k (dev): gsm-run" in result.stderr
    assert "--allow-mixed" in result.stderr
    assert_user_error(run_cli("compare", str(a), str(c), "--results-dir", str(tmp_path)), "different splits")

    mixed = run_cli("compare", str(a), str(b), "--allow-mixed", "--json", "--results-dir", str(tmp_path))
    assert mixed.code == 0, mixed.stderr
    data = json.loads(mixed.stdout)
    assert [r["benchmark"] for r in data["runs"]] == ["tiny-arith", "gsm8k"]
    assert all(r["best"] for r in data["runs"])  # the best of each benchmark, not one across both
    assert data["comparisons"] == []  # never a paired comparison across benchmarks


# -- synthetic result folders -------------------------------------------------------------------------


def test_table_pairs_plots_and_report_from_synthetic_runs(tmp_path: Path) -> None:
    base = base_scores(100)
    strong = make_run(tmp_path, "strong", base, calls=5)
    weak = make_run(tmp_path, "weak", flipped(base, 10), calls=1)  # 10 points below, cheaper
    same = make_run(tmp_path, "same-as-strong", base, calls=9)  # same score, more calls: off the front
    out = tmp_path / "report-here"
    result = run_cli(
        "compare",
        str(weak),
        str(strong),
        str(same),
        "--json",
        "--markdown",
        "--out",
        str(out),
        "--results-dir",
        str(tmp_path),
    )
    assert result.code == 0, result.stderr
    data = json.loads(result.stdout)

    rows = data["runs"]
    assert [r["label"] for r in rows] == ["strong", "same-as-strong", "weak"]  # by score, then fewer calls
    assert [r["best"] for r in rows] == [True, False, False]
    assert [r["pareto"] for r in rows] == [True, False, True]
    assert rows[0]["score"] == pytest.approx(0.8) and rows[2]["score"] == pytest.approx(0.7)
    assert rows[0]["calls_per_query"] == 5 and rows[0]["tokens_per_query"] == 250
    assert rows[0]["cost_per_query"] == pytest.approx(0.005) and rows[0]["latency_p50"] == pytest.approx(0.5)
    assert set(rows[0]["per_category"]) == set(CATEGORIES)

    pairs = {(p["a"], p["b"]): p for p in data["comparisons"]}
    assert len(pairs) == 3  # 3 runs: every pair
    win = pairs[("strong", "weak")]
    assert win["shared_questions"] == 100
    assert win["points"] == pytest.approx(10.0) and win["significant"] and win["winner"] == "strong"
    assert win["points_ci95"][0] > 0
    assert win["verdict"].startswith("strong beats weak by 10.0 points, CI ")
    tie = pairs[("strong", "same-as-strong")]
    assert tie["verdict"] == "no significant difference (strong - same-as-strong = 0.0 points, CI 0.0-0.0)"

    assert data["compare_dir"] == str(out)
    assert [Path(p).name for p in data["plots"]] == ["score_vs_calls.png", "score_vs_cost.png", "per_category.png"]
    for path in data["plots"]:
        assert_png(Path(path))
    report = Path(data["report"]).read_text(encoding="utf-8")
    assert "| ★ best | strong | 0.800 [" in report
    assert "strong beats weak by 10.0 points" in report
    assert "![per category](per_category.png)" in report


def test_incomplete_run_is_a_warning_and_compared_on_what_it_has(tmp_path: Path) -> None:
    scores = base_scores(8)
    full = make_run(tmp_path, "full", scores)
    part = make_run(tmp_path, "part", dict(list(scores.items())[:5]), question_ids=list(scores), complete=False)
    result = run_cli("compare", str(full), str(part), "--json", "--results-dir", str(tmp_path))
    assert result.code == 0, result.stderr
    assert f"warning: {part} is incomplete: 5 of 8 questions" in " ".join(result.stderr.split())
    data = json.loads(result.stdout)
    row = next(r for r in data["runs"] if r["label"] == "part")
    assert (row["questions"], row["expected"], row["complete"]) == (5, 8, False)
    assert data["comparisons"][0]["shared_questions"] == 5
    assert data["warnings"] and "part" in data["warnings"][0]


def test_search_folder_expands_into_trials_or_final_evaluations(tmp_path: Path) -> None:
    search = tmp_path / "search-abc"
    search.mkdir()
    (search / "search.json").write_text(json.dumps({"kind": "search", "benchmark": "tiny-arith", "split": "dev"}))
    base = base_scores(20)
    make_run(search / "trials", "t001", base, kind="trial")
    make_run(search / "trials", "t002", flipped(base, 4), kind="trial", calls=3)
    make_run(search / "trials", "t003", {}, kind="trial", question_ids=list(base))  # planned, never run

    result = run_cli("compare", str(search), "--json", "--results-dir", str(tmp_path))
    assert result.code == 0, result.stderr
    data = json.loads(result.stdout)
    assert [(r["label"], r["kind"], r["split"]) for r in data["runs"]] == [
        ("t001", "trial", "dev"),
        ("t002", "trial", "dev"),
    ]
    assert data["runs"][0]["search"] == "search-abc"

    make_run(search / "final", "t001", base, split="test", kind="trial")
    result = run_cli("compare", str(search), "--json", "--results-dir", str(tmp_path))
    assert result.code == 0, result.stderr
    assert [(r["label"], r["kind"], r["split"]) for r in json.loads(result.stdout)["runs"]] == [
        ("t001", "final", "test")
    ]

    # A search's test evaluations against a dev run are different splits: refused.
    dev_run = make_run(tmp_path, "dev-run", base)
    assert_user_error(run_cli("compare", str(search), str(dev_run), "--results-dir", str(tmp_path)), "different splits")


def test_labels_are_unique_when_architectures_repeat(tmp_path: Path) -> None:
    from archon_cli.evaluation.run_folder import load_result
    from archon_cli.report.compare import assign_labels

    a = make_run(tmp_path / "x", "run-1", base_scores(4))
    b = make_run(tmp_path / "y", "run-1", base_scores(4))
    for folder in (a, b):  # same architecture name and same folder name
        info = json.loads((folder / "run.json").read_text())
        (folder / "run.json").write_text(json.dumps({**info, "architecture": "same"}))
    runs = load_result(a) + load_result(b)
    assign_labels(runs)
    assert [r.label for r in runs] == ["x/run-1", "y/run-1"]


# -- real result folders from the embedded model -------------------------------------------------------


@pytest.mark.local_model
def test_compare_real_eval_runs_and_architecture_file(tmp_path: Path, local_model_available: None) -> None:
    results, cache = tmp_path / "results", tmp_path / "cache"
    common = ["-b", "tiny-arith", "--limit", "8", "--results-dir", str(results), "--cache-dir", str(cache)]
    for arch in ("architectures/single-call.yaml", "architectures/majority-vote.yaml"):
        made = run_cli("eval", arch, *common, "--json", timeout=900)
        assert made.code == 0, made.stderr
    runs = sorted(results.glob("eval-*"))
    assert len(runs) == 2

    result = run_cli("compare", *map(str, runs), "--results-dir", str(results), "--markdown")
    assert result.code == 0, result.stderr
    assert "single-call" in result.stdout and "majority-vote" in result.stdout and "★ best" in result.stdout
    assert "paired comparisons" in result.stdout
    plots = [Path(line.split("plot: ", 1)[1].strip()) for line in result.stdout.splitlines() if "plot: " in line]
    # tiny-arith interleaves its categories, so --limit 8 spans all three: a per-category plot too
    assert [p.name for p in plots] == ["score_vs_calls.png", "score_vs_cost.png", "per_category.png"]
    for path in plots:
        assert path.parent.parent == results and path.parent.name.startswith("compare-")
        assert_png(path)
    assert (plots[0].parent / "report.md").exists()

    # An architecture file is evaluated with `archon eval`'s run id: it resumes the finished run.
    majority = next(p for p in runs if "majority-vote" in p.name)
    again = run_cli("compare", "architectures/single-call.yaml", str(majority), *common, "--json")
    assert again.code == 0, again.stderr
    assert sorted(results.glob("eval-*")) == runs  # no new run folder
    data = json.loads(again.stdout)
    single = next(r for r in data["runs"] if r["label"] == "single-call")
    assert Path(single["path"]) in runs and single["questions"] == 8
    assert "0 questions resumed" not in again.stderr and "8 questions resumed" in again.stderr


def test_table_is_whole_when_stdout_is_not_a_terminal(tmp_path: Path) -> None:
    """Piped or logged (CliRunner's output is not a terminal), the table keeps every cell whole
    instead of squeezing it to 80 columns ("0.300-0.…", "architect…")."""
    from typer.testing import CliRunner

    from archon_cli.cli import app

    base = base_scores(100)
    long_a = "majority-vote-over-three-prompt-styles-of-smollm2-" + "a" * 20
    long_b = "one-greedy-call-of-the-embedded-smollm2-135m-model-" + "b" * 20
    a = make_run(tmp_path, long_a, base, calls=3)
    b = make_run(tmp_path, long_b, flipped(base, 10))
    result = CliRunner().invoke(
        app, ["compare", str(a), str(b), "--results-dir", str(tmp_path)], env={"COLUMNS": None, "TERM": "dumb"}
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert "…" not in out
    assert long_a in out and long_b in out
    assert re.search(r"0\.800 \[0\.\d{3}-0\.\d{3}\]", out) and re.search(r"0\.700 \[0\.\d{3}-0\.\d{3}\]", out)
    row = next(line for line in out.splitlines() if long_a in line)
    assert "★ best" in row and "100" in row and "3.00" in row  # the whole row on one line
    assert len(row) > 80
