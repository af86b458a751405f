"""Damaged files and crowded run folders: the same command resumes past torn or undecodable
records, records with missing fields or a non-numeric score, a summary.json turned into a folder
and a damaged cache, saying so in one line each; and a second process on one run id stops (or
waits) instead of running every question again."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

from archon_cli.testing import FaultPlan, FaultServer
from tests.conftest import run_cli
from tests.reliability import (
    cli_command,
    cli_env,
    eval_args,
    only_run_dir,
    read_jsonl,
    read_records,
    run_parallel,
    summary_json,
    write_architecture,
)

GARBAGE = random.Random(1).randbytes(300).replace(b"\n", b"") + b"\n"


def _warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("warning:")]


def test_eval_resumes_past_damaged_records_folders_and_cache(tmp_path: Path) -> None:
    with FaultServer(FaultPlan(latency=0.01, wrong_rate=0.3, seed=5)) as server:
        arch = write_architecture(tmp_path / "arch.yaml", server.api_base)
        args = eval_args(arch, tmp_path / "results", tmp_path / "cache", 20)
        first = run_cli(*args)
        assert first.code == 0, first.stderr
        run_dir = only_run_dir(tmp_path / "results")
        records = read_records(run_dir)
        assert len(records) == 20

        # The damage: a record cut down to its id, one with a score that is not a number, random
        # bytes after the last record, summary.json turned into a folder, a cache page overwritten.
        cut, unscored = records[3]["id"], records[7]["id"]
        lines = []
        for record in records:
            if record["id"] == cut:
                record = {"id": cut}
            elif record["id"] == unscored:
                record = {**record, "score": "high"}
            lines.append(json.dumps(record).encode() + b"\n")
        (run_dir / "questions.jsonl").write_bytes(b"".join(lines) + GARBAGE + b'{"id": "q-torn", "ans')
        (run_dir / "summary.json").unlink()
        (run_dir / "summary.json").mkdir()
        cache_file = tmp_path / "cache" / "responses.sqlite"
        with cache_file.open("r+b") as f:
            f.seek(0)
            f.write(b"\x00" * 100)  # the header: no longer a database
        server.reset()

        again = run_cli(*args)
        seen = server.stats()["requests"]

    assert again.code == 0, again.stderr
    assert "Traceback" not in again.stderr
    warnings = _warnings(again.stderr)
    assert any("responses.sqlite was damaged" in w and "moved to" in w for w in warnings), warnings
    assert any("summary.json was a folder" in w for w in warnings), warnings
    assert any("set aside 4 damaged record(s)" in w for w in warnings), warnings  # cut, unscored, garbage, torn
    assert (run_dir / "questions.jsonl.damaged").read_bytes().count(b"\n") == 4
    summary = summary_json(again.stdout)
    # Only the two questions whose records were damaged ran again; the rest were kept.
    assert summary["questions"] == 20 and summary["resumed"] == 18
    assert summary["this_run"]["calls"] == seen == 2
    assert summary["score"] == summary_json(first.stdout)["score"]
    assert json.loads((run_dir / "summary.json").read_text())["questions"] == 20
    assert list((tmp_path / "cache").glob("responses.sqlite.damaged-*"))
    # Said once: the damage was set aside, so the next run has nothing to say and nothing to send.
    third = run_cli(*args)
    assert third.code == 0 and _warnings(third.stderr) == [], third.stderr
    assert summary_json(third.stdout)["this_run"]["calls"] == 0


def test_compare_reads_a_folder_with_damaged_records(tmp_path: Path) -> None:
    with FaultServer(FaultPlan(wrong_rate=0.3, seed=5)) as server:
        arch = write_architecture(tmp_path / "arch.yaml", server.api_base)
        assert run_cli(*eval_args(arch, tmp_path / "results", tmp_path / "cache", 10)).code == 0
    run_dir = only_run_dir(tmp_path / "results")
    records = read_records(run_dir)
    records[0] = {**records[0], "score": "n/a"}
    (run_dir / "questions.jsonl").write_bytes(b"".join(json.dumps(r).encode() + b"\n" for r in records) + GARBAGE)
    (run_dir / "summary.json").unlink()
    (run_dir / "summary.json").mkdir()
    result = run_cli("compare", str(run_dir), "--results-dir", str(tmp_path), "--json")
    assert result.code == 0, result.stderr
    assert "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    assert report["runs"][0]["questions"] == 9
    assert any("skipped 2 damaged record(s)" in w for w in report["warnings"]), report["warnings"]


def test_run_input_resumes_past_damage_and_refuses_its_own_input(tmp_path: Path) -> None:
    queries = tmp_path / "q.jsonl"
    queries.write_text(
        "".join(json.dumps({"id": f"q{i}", "prompt": f"What is {i} + 1?"}) + "\n" for i in range(6)), encoding="utf-8"
    )
    answers = tmp_path / "answers.jsonl"
    with FaultServer(FaultPlan(wrong_rate=0.0)) as server:
        arch = write_architecture(tmp_path / "arch.yaml", server.api_base)
        args = ("run", str(arch), "--input", str(queries), "--no-cache", "--json")
        assert run_cli(*args, "--output", str(answers)).code == 0
        written = read_jsonl(answers)
        written[2] = {"id": written[2]["id"]}  # cut down to its id: not an answer
        answers.write_bytes(b"".join(json.dumps(r).encode() + b"\n" for r in written) + GARBAGE)
        server.reset()
        again = run_cli(*args, "--output", str(answers))
        seen = server.stats()["requests"]
        same = run_cli(*args, "--output", str(queries))
    assert again.code == 0, again.stderr
    report = json.loads(again.stdout.strip().splitlines()[-1])
    assert (report["answered"], report["skipped_already_done"], report["calls"], seen) == (1, 5, 1, 1)
    assert any("skipped 2 damaged record(s)" in w for w in _warnings(again.stderr)), again.stderr
    final = {r["id"]: r for r in read_jsonl(answers) if r.get("answer")}
    assert final["q2"]["answer"] == "3"
    # `run --input X --output X` exited 0, said "1 already done" and wrote no answer.
    assert same.code == 2 and "is the --input file" in same.stderr


def _lock_holder(results: Path, timeout: float = 60) -> dict[str, object]:
    """The holder a run folder's lock file names, once a process holds it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for lock in results.glob("*/.lock"):
            try:
                return json.loads(lock.read_text())  # type: ignore[no-any-return]
            except ValueError:
                pass
        time.sleep(0.05)
    raise AssertionError("no process took the run folder's lock in time")


def test_a_second_process_on_one_run_id_stops_or_waits(tmp_path: Path) -> None:
    """Two processes on one run id both ran every question (80 records for 40 questions)."""
    with FaultServer(FaultPlan(latency=0.5)) as server:  # 30 questions one at a time: 15 s
        arch = write_architecture(tmp_path / "arch.yaml", server.api_base)
        args = eval_args(arch, tmp_path / "results", tmp_path / "cache", 30, "--concurrency", "1")
        first = subprocess.Popen(cli_command(*args), env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            holder = _lock_holder(tmp_path / "results")
            assert holder["pid"] == first.pid
            second, waiting = run_parallel(args, [*args, "--wait-lock"])
            first_out, first_err = first.communicate(timeout=120)
        finally:
            first.kill()
        seen = server.stats()["requests"]

    assert first.returncode == 0, first_err
    lines = [line for line in second.stderr.splitlines() if line.strip()]
    assert second.code == 2 and len(lines) == 1, second.stderr
    assert f"is in use by pid {first.pid} on {holder['host']} since {holder['since']}" in lines[0]
    assert "--wait-lock" in lines[0]
    # The one that waited found every question finished, and sent nothing.
    assert waiting.code == 0, waiting.stderr
    assert summary_json(waiting.stdout)["this_run"]["calls"] == 0
    records = read_records(only_run_dir(tmp_path / "results"))
    # One process asked every question once (repeated questions are cache hits, not sends).
    assert len(records) == len({r["id"] for r in records}) == 30
    assert seen == summary_json(first_out.decode())["this_run"]["calls"] <= 30


def test_a_killed_holder_leaves_no_lock_behind(tmp_path: Path) -> None:
    with FaultServer(FaultPlan(latency=0.25)) as server:
        arch = write_architecture(tmp_path / "arch.yaml", server.api_base)
        args = eval_args(arch, tmp_path / "results", tmp_path / "cache", 8, "--concurrency", "1")
        proc = subprocess.Popen(cli_command(*args), env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _lock_holder(tmp_path / "results")
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        resumed = run_cli(*args)
    assert resumed.code == 0, resumed.stderr
    assert len({r["id"] for r in read_records(only_run_dir(tmp_path / "results"))}) == 8
