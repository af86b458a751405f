"""Every bad input of a task: one line on stderr naming the file (and row and column where there is
one), exit 2, no traceback, nothing written. Run through the CLI's own entry point, in-process."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from archon_cli.cli import main
from tests.benchmarks.task.helpers import write_task

ARCH = str(Path(__file__).resolve().parents[3] / "architectures" / "single-call.yaml")
ROWS = [{"question": f"What is {i} + 1?", "answer": str(i + 1), "id": f"q{i}"} for i in range(10)]


def run_main(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["archon", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    return int(exit_info.value.code or 0), capsys.readouterr().err


def csv(folder: Path, text: str | bytes, name: str = "data.csv") -> Path:
    path = folder / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def task_over(folder: Path, data: str, **keys: Any) -> Path:
    return write_task(folder, None, data=data, **keys)


SCORER_PY = "import nothing_here_at_all\n\ndef score(reply, row):\n    return True\n"

# (what the test makes: a function of the folder returning the -b value, a fragment of the message)
CASES: dict[str, tuple[Callable[[Path], Path | str], str]] = {
    "missing task file": (lambda d: d / "nope.yaml", "nope.yaml: task file not found"),
    "missing data file (bare)": (lambda d: d / "nope.jsonl", "nope.jsonl: data file not found"),
    "missing data file (named by the task)": (lambda d: task_over(d, "gone.csv"), "data " + "{d}/gone.csv: data file not found"),
    "unknown format (bare)": (lambda d: csv(d, "a,b\n", "data.txt"), "unknown format '.txt'"),
    "unknown data format": (lambda d: task_over(d, "data.xlsx"), "unknown data format '.xlsx'"),
    "CSV not UTF-8": (lambda d: task_over(d, csv(d, b"question,answer\n\xff\xfe,1\n").name), "not UTF-8 text"),
    "torn CSV (a row with more fields)": (
        lambda d: task_over(d, csv(d, "question,answer\na,1\nb,2,3,4\n").name),
        "cannot read the CSV file (Error tokenizing data. C error: Expected 2 fields in line 3, saw 4)",
    ),
    "torn CSV (an unclosed quote)": (
        lambda d: task_over(d, csv(d, 'question,answer\na,1\n"b,2\nc,3\n').name),
        "cannot read the CSV file",
    ),
    "torn JSONL": (
        lambda d: task_over(d, csv(d, '{"question": "a", "answer": "1"}\n{"question": "b", "ans\n', "data.jsonl").name),
        "line 2 is not valid JSON",
    ),
    "unreadable parquet": (lambda d: task_over(d, csv(d, b"PAR1 torn", "data.parquet").name), "cannot read the PARQUET file"),
    "empty data file": (lambda d: task_over(d, csv(d, "").name), "the data file is empty"),
    "data with a header and no rows": (lambda d: task_over(d, csv(d, "question,answer\n").name), "the data file has no rows"),
    "template naming a missing column": (
        lambda d: write_task(d, ROWS, input="What is {questoin}?"),
        "input names column 'questoin', which the data lacks (columns: question, answer, id)",
    ),
    "a row without a target": (
        lambda d: write_task(d, [*ROWS[:3], {"question": "x", "answer": "", "id": "q3"}, *ROWS[4:]]),
        "data.jsonl row 4 column 'answer': no target",
    ),
    "duplicate ids": (
        lambda d: write_task(d, [*ROWS[:5], dict(ROWS[5], id="q1"), *ROWS[6:]], id="id"),
        "data.jsonl row 6 column 'id': duplicate id 'q1' (also row 2)",
    ),
    "unknown scorer": (lambda d: write_task(d, ROWS, scorer="fuzzy"), "unknown scorer 'fuzzy' (known: exact"),
    "unknown key": (lambda d: write_task(d, ROWS, scorer="exact", patern="x"), "patern: unknown key"),
    "regex that does not compile": (lambda d: write_task(d, ROWS, scorer="regex", pattern="(\\d+"), "pattern '(\\\\d+' does not compile"),
    "empty test part": (lambda d: write_task(d, ROWS, split={"dev": 0.95}), "the split leaves the test part empty (10 rows, 10 dev)"),
    "empty dev part (split column)": (
        lambda d: write_task(d, [dict(r, part="test") for r in ROWS], split={"column": "part"}),
        "the split leaves the dev part empty",
    ),
    "split column value": (
        lambda d: write_task(d, [dict(r, part="train") for r in ROWS], split={"column": "part"}),
        "row 1 column 'part': split 'train' is not dev or test",
    ),
    "python scorer that cannot be imported (file)": (
        lambda d: (csv(d, SCORER_PY, "my_scorer.py"), write_task(d, ROWS, scorer="python", function="my_scorer.py:score"))[1],
        "function 'my_scorer.py:score' cannot be imported (ModuleNotFoundError: No module named 'nothing_here_at_all')",
    ),
    "python scorer that cannot be imported (module)": (
        lambda d: write_task(d, ROWS, scorer="python", function="no_such_module_xyz:score"),
        "function 'no_such_module_xyz:score' cannot be imported",
    ),
    "python scorer without the function": (
        lambda d: (csv(d, "def other(r, row):\n    return 1\n", "s.py"), write_task(d, ROWS, scorer="python", function="s.py:score"))[1],
        "function 's.py:score': s.py has no function 'score'",
    ),
    "number target that is not a number": (
        lambda d: write_task(d, [*ROWS[:2], dict(ROWS[2], answer="three"), *ROWS[3:]], scorer="number"),
        "row 3 column 'answer': target 'three' is not a number",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("command", ["eval", "search"])
def test_bad_input_is_one_line_and_exit_2(
    case: str, command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    make, fragment = CASES[case]
    target = str(make(tmp_path))
    results = tmp_path / "results"
    if command == "eval":
        args = ["eval", ARCH, "-b", target]
    else:
        args = ["search", "-b", target, "--budget", "2", "--trials", "1"]
    code, err = run_main(monkeypatch, capsys, *args, "--results-dir", str(results), "--cache-dir", str(tmp_path / "cache"))
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert code == 2, err
    assert "Traceback" not in err
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and fragment.format(d=tmp_path) in lines[0], lines[0]
    assert not results.exists()  # refused before anything was written or called
