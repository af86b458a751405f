"""Benchmark data files: the one home of the helpers every benchmark reads its data with (a file
under ``--data-dir`` or from the Hugging Face hub, JSONL and JSON lists, required fields), each
failure a one-line UserError naming the file, line or field."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from archon_cli.errors import UserError


class Benchmark(Protocol):
    """What the data-file lookup needs of a benchmark (benchmarks/base.py's Benchmark has it)."""

    @property
    def name(self) -> str: ...

    @property
    def data_dir(self) -> Path | None: ...

    def data_path(self, *parts: str) -> Path: ...


def read_jsonl(path: Path, name: str) -> list[dict[str, Any]]:
    """Rows of a JSONL data file; a malformed line is a one-line UserError naming the file and line."""
    return list(jsonl_objects(path, f"{name}: {path}"))


def jsonl_objects(path: Path, where: str) -> Iterator[dict[str, Any]]:
    """The objects of a JSONL file, one per non-blank line, read as they are asked for; a line that
    is not a JSON object is a one-line UserError: "<where> line N is not valid JSON"."""
    with path.open("r", encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                raise UserError(f"{where} line {number} is not valid JSON") from None
            if not isinstance(row, dict):
                raise UserError(f"{where} line {number} is not a JSON object")
            yield row


def required(row: dict[str, Any], fields: Iterable[str], name: str, where: str) -> None:
    """A one-line UserError naming the fields a data row lacks."""
    missing = [f for f in fields if f not in row]
    if missing:
        raise UserError(f"{name}: {where} has no {', '.join(missing)} field")


def data_file(
    benchmark: Benchmark, local: Sequence[str], hub_repo: str, hub_path: str, repo_type: str = "dataset"
) -> Path:
    """``local`` under the data directory, else ``hub_path`` of ``hub_repo`` downloaded from the
    Hugging Face hub. A missing file is a one-line UserError naming it."""
    path = _locate(benchmark, local, hub_repo, hub_path, repo_type, optional=False)
    assert path is not None
    return path


def optional_data_file(
    benchmark: Benchmark, local: Sequence[str], hub_repo: str, hub_path: str, repo_type: str = "dataset"
) -> Path | None:
    """Like ``data_file``, but ``None`` when the file does not exist (an unreachable hub is still an error)."""
    return _locate(benchmark, local, hub_repo, hub_path, repo_type, optional=True)


def _locate(
    benchmark: Benchmark, local: Sequence[str], hub_repo: str, hub_path: str, repo_type: str, optional: bool
) -> Path | None:
    if benchmark.data_dir is not None:
        if optional and benchmark.data_dir.is_dir() and not benchmark.data_dir.joinpath(*local).exists():
            return None
        return benchmark.data_path(*local)
    try:
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import RemoteEntryNotFoundError
    except ImportError:  # pragma: no cover - huggingface_hub comes with datasets
        raise UserError(f"{benchmark.name}: give a local copy with --data-dir or ARCHON_DATA_DIR") from None
    try:
        return Path(hf_hub_download(repo_id=hub_repo, filename=hub_path, repo_type=repo_type))
    except RemoteEntryNotFoundError:  # the hub answered: no such file
        if optional:
            return None
        raise UserError(f"{benchmark.name}: {hub_repo} on the Hugging Face hub has no {hub_path}") from None
    except Exception as exc:
        raise UserError(
            f"{benchmark.name}: could not download {hub_path} from {hub_repo} on the Hugging Face hub "
            f"({type(exc).__name__}); give a local copy with --data-dir or ARCHON_DATA_DIR"
        ) from None


def read_json_list(path: Path, name: str) -> list[dict[str, Any]]:
    """A JSON file holding a list of objects (the AlpacaEval output files)."""
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise UserError(f"{name}: {path} is not valid JSON") from None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise UserError(f"{name}: {path} is not a JSON list of objects")
    return rows


def field(row: dict[str, Any], key: str, name: str, where: str) -> Any:
    """``row[key]``, or a UserError naming the row that lacks it."""
    try:
        return row[key]
    except KeyError:
        raise UserError(f"{name}: {where} has no {key!r} field") from None
