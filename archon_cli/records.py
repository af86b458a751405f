"""JSON and JSONL files: append-only result logs (one record per finished item, durable as soon as
written, so a killed run loses nothing that finished and a re-run skips what is already there), and
JSON parsed with a nesting limit."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Deeper JSON is refused before parsing (Python's parser would recurse past its stack limit).
MAX_JSON_DEPTH = 100
# Outside strings: a quote, or a run of opening or closing brackets. Inside: a quote or a backslash.
_OUTSIDE = re.compile(r'"|[\[{]+|[\]}]+')
_INSIDE = re.compile(r'["\\]')


class TooDeep(ValueError):
    """JSON nested deeper than the limit."""


def json_depth(text: str, stop_above: int | None = None) -> int:
    """How deeply ``text``'s arrays and objects nest (brackets inside strings do not count). One pass,
    in constant memory (strings are skipped by the regex engine); it stops once the depth passes
    ``stop_above``."""
    depth = deepest = 0
    pos = 0
    while True:
        match = _OUTSIDE.search(text, pos)
        if match is None:
            return deepest
        token = match.group()
        pos = match.end()
        if token == '"':  # skip the string: to its closing quote, past escaped characters
            while True:
                inner = _INSIDE.search(text, pos)
                if inner is None:
                    return deepest
                pos = inner.end()
                if inner.group() == '"':
                    break
                pos += 1  # the escaped character
        elif token[0] in "[{":
            depth += len(token)
            if depth > deepest:
                deepest = depth
                if stop_above is not None and deepest > stop_above:
                    return deepest
        else:
            depth -= len(token)


def loads_json(text: str, max_depth: int = MAX_JSON_DEPTH, **kwargs: Any) -> Any:
    """``json.loads`` that raises TooDeep, before parsing, for arrays and objects nested past ``max_depth``."""
    few = text.count("[") + text.count("{") <= max_depth  # too few brackets to nest deeper: no pass needed
    if not few and json_depth(text, max_depth) > max_depth:
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
        try:
            with self.path.open("a", encoding="utf-8") as f:
                # A torn line from an earlier kill must not swallow this record.
                if f.tell() > 0 and not _ends_with_newline(self.path):
                    f.write("\n")
                f.write(line)
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:
            if exc.filename is not None:
                raise
            raise OSError(exc.errno, exc.strerror, str(self.path)) from None  # say which file

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
