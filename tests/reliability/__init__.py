"""Reliability and security: the real CLI (a subprocess) against a faulty OpenAI-compatible server
on 127.0.0.1 (``archon_cli.testing.fault_server``), reached through LiteLLM exactly like vLLM."""

from __future__ import annotations

import json
import os
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import ROOT, CliResult, run_cli

# Retries wait this long at first (doubling); a 429's Retry-After wins.
FAST_RETRY = ("--retry-wait", "0.02")


def write_architecture(
    path: Path,
    api_base: str,
    *,
    timeout: float = 2.0,
    samples: int = 1,
    name: str = "fault-gen",
    api_key_env: str | None = None,
    layers: list[list[dict[str, Any]]] | None = None,
) -> Path:
    """One generator (``samples`` samples) calling ``openai/fake-model`` at ``api_base``."""
    generator: dict[str, Any] = {
        "type": "generator",
        "model": "openai/fake-model",
        "api_base": api_base,
        "samples": samples,
        "temperature": 0.0,
        "max_tokens": 16,
        "timeout": timeout,
    }
    if api_key_env:
        generator["api_key_env"] = api_key_env
    path.write_text(yaml.safe_dump({"name": name, "layers": layers or [[generator]]}), encoding="utf-8")
    return path


def eval_args(arch: Path, results: Path, cache: Path, limit: int = 50, *extra: str) -> list[str]:
    """``archon eval`` on tiny-arith (all splits, first ``limit`` questions), JSON summary on stdout."""
    return [
        "eval",
        str(arch),
        "-b",
        "tiny-arith",
        "--split",
        "all",
        "--limit",
        str(limit),
        "--results-dir",
        str(results),
        "--cache-dir",
        str(cache),
        *FAST_RETRY,
        "--json",
        *extra,
    ]


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment ``run_cli`` gives the CLI, for tests that start it with Popen."""
    return {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "COLUMNS": "200", **(extra or {})}


def cli_command(*args: str) -> list[str]:
    import sys

    return [sys.executable, "-m", "archon_cli", *args]


def run_parallel(*commands: tuple[str, ...] | list[str], env: dict[str, str] | None = None) -> list[CliResult]:
    """``run_cli`` for several commands at once (each CLI start imports LiteLLM for seconds)."""
    with ThreadPoolExecutor(max_workers=len(commands)) as pool:
        futures = [pool.submit(run_cli, *args, env=env, timeout=180) for args in commands]
        return [f.result() for f in futures]


def only_run_dir(results: Path) -> Path:
    dirs = [p for p in results.iterdir() if p.is_dir()]
    assert len(dirs) == 1, dirs
    return dirs[0]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every parseable line of a JSONL file (a torn last line from a kill, or garbage, is skipped)."""
    records = []
    for line in path.read_bytes().decode("utf-8", errors="replace").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def read_records(run_dir: Path) -> list[dict[str, Any]]:
    """The records of a run folder's questions.jsonl."""
    return read_jsonl(run_dir / "questions.jsonl")


def summary_json(stdout: str) -> dict[str, Any]:
    """The ``--json`` summary: the last stdout line."""
    return json.loads(stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def integrity(cache: Path) -> tuple[str, int]:
    """``PRAGMA integrity_check`` of the response cache and its row count."""
    db = sqlite3.connect(str(cache / "responses.sqlite"))
    try:
        check = db.execute("PRAGMA integrity_check").fetchone()[0]
        rows = db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
    finally:
        db.close()
    return str(check), int(rows)


__all__ = [
    "FAST_RETRY",
    "ROOT",
    "cli_command",
    "cli_env",
    "eval_args",
    "integrity",
    "only_run_dir",
    "read_jsonl",
    "read_records",
    "run_parallel",
    "summary_json",
    "write_architecture",
]
