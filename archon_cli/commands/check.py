"""What ``archon check`` does: validate architecture files (ours and the original Archon's) and task
files (or data files) without calling any model, for people and CI scripts.

Per file: OK with static calls per query, the models and the warnings, or the one-line error; for
a task, the rows, columns, split sizes, first input and scorer, or each problem in one line.
Nothing here builds a gateway, so no model, provider library or network is touched.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from archon_cli.components.majority_vote import MajorityVoteConfig
from archon_cli.config.architecture import load_architecture
from archon_cli.errors import EXIT_OK, EXIT_USAGE, ArchonError

_DATA_SUFFIXES = (".jsonl", ".csv", ".parquet")  # and .json holding rows (benchmarks/task/file.py)


def is_task_file(path: Path) -> bool:
    """A data file, or a YAML file with a task's keys (``data``, no ``layers``). Told apart here,
    without importing the benchmarks (an architecture's check loads no engine or model code)."""
    suffix = path.suffix.lower()
    if suffix in _DATA_SUFFIXES:
        return True
    if suffix not in (".json", ".yaml", ".yml") or not path.is_file():
        return False
    if suffix == ".json":  # an architecture (ours or the original Archon's) is an object of settings
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False  # the architecture check says what is wrong with it
        return isinstance(data, list) or (
            isinstance(data, dict) and bool(data) and all(isinstance(v, dict) for v in data.values())
        )
    try:
        from archon_cli.config.files import read_config_file

        raw = read_config_file(path)
    except ArchonError:
        return False
    return isinstance(raw, dict) and "data" in raw and "layers" not in raw


def check_file(path: Path) -> dict[str, Any]:
    """The verdict on one file, as the JSON record ``--json`` prints."""
    if is_task_file(path):
        from archon_cli.benchmarks.task.check import check_task

        return check_task(path)
    try:
        architecture, warnings = load_architecture(path)
    except ArchonError as exc:
        return {"file": str(path), "ok": False, "error": str(exc)}
    prefix = f"{path}: "
    return {
        "file": str(path),
        "ok": True,
        "name": architecture.name,
        "static_calls": architecture.static_calls(),
        "layer_calls": architecture.layer_calls(),
        "models": architecture.models(),
        # Adaptive votes (``stop``): the static count is then the most a query may cost.
        "stops": [c.stop.describe() for c in architecture.components() if isinstance(c, MajorityVoteConfig) and c.stop],
        "warnings": [w[len(prefix) :] if w.startswith(prefix) else w for w in warnings],
    }


def run_check(paths: list[Path], json_out: bool) -> int:
    """Check every file (one bad file does not stop the others); exit 0 if all are valid, else 2."""
    records = [check_file(path) for path in paths]
    valid = sum(r["ok"] for r in records)
    if json_out:
        print(json.dumps({"files": records, "valid": valid, "invalid": len(records) - valid}, ensure_ascii=False))
    else:
        for r in records:
            if r.get("kind") == "task":
                print_task(r)
                continue
            if not r["ok"]:
                print(f"ERROR {r['error']}")
                continue
            per_layer = " + ".join(str(c) for c in r["layer_calls"])
            calls = f"{r['static_calls']} call{'' if r['static_calls'] == 1 else 's'} per query ({per_layer})"
            if r["stops"]:
                calls += f" at most: the vote stops once decided ({', '.join(r['stops'])})"
            print(f"OK    {r['file']}: {calls}; models: {', '.join(r['models'])}")
            for warning in r["warnings"]:
                print(f"      warning: {warning}")
        if len(records) > 1:
            print(f"{valid} of {len(records)} files valid")
    return EXIT_OK if valid == len(records) else EXIT_USAGE


def print_task(r: dict[str, Any]) -> None:
    """A task's report: what was read, or each problem in one line."""
    if "rows" not in r:
        print(f"ERROR {r['error']}")
        return
    if not r["ok"]:
        for problem in r["problems"]:
            print(f"ERROR {problem}")
        return
    splits = r["splits"]
    print(f"OK    {r['file']}: task {r['name']}, {r['rows']} rows read from {r['data']}")
    print(f"      columns: {', '.join(r['columns'])}")
    print(f"      split: dev {splits['dev']}, test {splits['test']}")
    print(f"      scorer: {r['scorer']}")
    print(f"      first input: {json.dumps(r['first_input'], ensure_ascii=False)}")
