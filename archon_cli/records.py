"""JSON and JSONL files: append-only result logs (one record per finished item, durable as soon as
written, so a killed run loses nothing that finished and a re-run skips what is already there), and
JSON parsed with a nesting limit."""

from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Deeper JSON is refused before parsing (Python's parser would recurse past its stack limit).
MAX_JSON_DEPTH = 100
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_JSON_BRACKET = re.compile(r"[\[\]{}]")


class TooDeep(ValueError):
    """JSON nested deeper than the limit."""


def json_depth(text: str) -> int:
    """How deeply ``text``'s arrays and objects nest (brackets inside strings do not count)."""
    brackets = _JSON_BRACKET.findall(_JSON_STRING.sub("", text))
    steps = (1 if b in "[{" else -1 for b in brackets)
    return max(itertools.accumulate(steps, initial=0))


def loads_json(text: str, max_depth: int = MAX_JSON_DEPTH, **kwargs: Any) -> Any:
    """``json.loads`` that raises TooDeep, before parsing, for arrays and objects nested past ``max_depth``."""
    if json_depth(text) > max_depth:
        raise TooDeep(f"nested deeper than {max_depth} levels")
    return json.loads(text, **kwargs)


class JsonlLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.damaged = 0  # lines the last ``read`` skipped
        path.parent.mkdir(parents=True, exist_ok=True)

    def read(self) -> list[dict[str, Any]]:
        """Records written so far. A line that is not a JSON object (torn by a kill mid-write, not
        UTF-8, garbage) is skipped and counted in ``damaged``; the records around it are kept."""
        self.damaged = 0
        if not self.path.is_file():
            return []
        records = []
        for raw in self.path.read_bytes().split(b"\n"):
            if not raw.strip():
                continue
            try:
                record = loads_json(raw.decode("utf-8"))
            except ValueError:  # not UTF-8, not JSON, nested past the limit
                record = None
            if isinstance(record, dict):
                records.append(record)
            else:
                self.damaged += 1
        return records

    def set_aside(self, keep: Callable[[dict[str, Any]], bool] = lambda _record: True) -> int:
        """Move the lines ``read`` would skip, and the records ``keep`` refuses, to ``<name>.damaged``
        (appended there, as they were), and rewrite the log atomically with the rest. Returns how
        many lines were moved. Only for a log no other process is appending to."""
        if not self.path.is_file():
            return 0
        good: list[bytes] = []
        bad: list[bytes] = []
        for raw in self.path.read_bytes().split(b"\n"):
            if not raw.strip():
                continue
            try:
                record = loads_json(raw.decode("utf-8"))
            except ValueError:
                record = None
            (good if isinstance(record, dict) and keep(record) else bad).append(raw)
        if bad:
            with self.path.with_name(self.path.name + ".damaged").open("ab") as f:
                f.write(b"".join(line + b"\n" for line in bad))
            tmp = self.path.with_name(self.path.name + ".tmp")
            with tmp.open("wb") as f:
                f.write(b"".join(line + b"\n" for line in good))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        return len(bad)

    def done_ids(self, key: str = "id") -> set[str]:
        return {str(r[key]) for r in self.read() if key in r}

    def append(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False, default=str) + "\n"
        with self.path.open("a", encoding="utf-8") as f:
            # A torn line from an earlier kill must not swallow this record.
            if f.tell() > 0 and not _ends_with_newline(self.path):
                f.write("\n")
            f.write(line)
            f.flush()
            os.fsync(f.fileno())

    def append_raw(self, lines: bytes) -> None:
        """Append JSONL lines written elsewhere (a search worker's), as they are."""
        if not lines.strip():
            return
        with self.path.open("ab") as f:
            if f.tell() > 0 and not _ends_with_newline(self.path):
                f.write(b"\n")
            f.write(lines if lines.endswith(b"\n") else lines + b"\n")
            f.flush()
            os.fsync(f.fileno())


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (temp file + rename), so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)
