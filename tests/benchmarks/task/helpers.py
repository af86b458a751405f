"""Writing small task files and data files for the task tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def write_task(folder: Path, rows: list[dict[str, Any]] | None = None, name: str = "task.yaml", **keys: Any) -> Path:
    """A task file over ``data.jsonl`` (written from ``rows`` when given) with ``keys``."""
    if rows is not None:
        write_jsonl(folder / "data.jsonl", rows)
    spec = {"data": "data.jsonl", "input": "question", "target": "answer", **keys}
    path = folder / name
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path
