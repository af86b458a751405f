"""Reading queries: a prompt, a prompt file, or a JSONL file of queries."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path

from archon_cli.config.files import check_file, read_text
from archon_cli.errors import UserError
from archon_cli.records import TooDeep, loads_json
from archon_cli.state import Query

MAX_PROMPT_BYTES = 1_000_000
# A line of --input: a query of up to MAX_PROMPT_BYTES, as messages if need be, with room for JSON escapes.
MAX_LINE_BYTES = 8 * MAX_PROMPT_BYTES
MAX_INPUT_BYTES = 200_000_000


def _utf8_size(text: str, where: str, line_no: int) -> int:
    """The UTF-8 size of ``text``; a UserError for a lone surrogate (JSON's "\\ud800" escapes allow them)."""
    try:
        return len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:
        code = ord(text[exc.start])
        raise UserError(
            f"{where}: line {line_no}: holds a lone surrogate (\\u{code:04x}), which is not Unicode text"
        ) from None


def prompt_from_file(path: Path) -> Query:
    return Query.from_prompt(read_text(path, "prompt file", MAX_PROMPT_BYTES).strip(), id=path.stem)


def _query_from_record(record: object, where: str, line_no: int) -> Query:
    if not isinstance(record, dict):
        raise UserError(f"{where}: line {line_no}: expected a JSON object")
    qid = str(record.get("id", line_no))
    if "messages" in record:
        messages = record["messages"]
        if (
            not isinstance(messages, list)
            or not messages
            or not all(isinstance(m, dict) and isinstance(m.get("content"), str) and m.get("role") for m in messages)
        ):
            raise UserError(f"{where}: line {line_no}: 'messages' must be a list of {{role, content}} objects")
        for m in messages:
            _utf8_size(m["content"], where, line_no)
            _utf8_size(str(m["role"]), where, line_no)
        _utf8_size(qid, where, line_no)
        return Query(messages=tuple({"role": str(m["role"]), "content": m["content"]} for m in messages), id=qid)
    prompt = record.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise UserError(f"{where}: line {line_no}: needs a non-empty 'prompt' or 'messages'")
    if _utf8_size(prompt, where, line_no) > MAX_PROMPT_BYTES:
        raise UserError(f"{where}: line {line_no}: prompt is over {MAX_PROMPT_BYTES:,} bytes")
    _utf8_size(qid, where, line_no)
    return Query.from_prompt(prompt, id=qid)


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """The file's lines, numbered; each line's size is checked before it is held whole (a 30 MB
    line took 3.6 GB and seconds to refuse when the file was read and split first)."""
    check_file(path, "input file", MAX_INPUT_BYTES)
    try:
        with path.open("rb") as f:
            for line_no in itertools.count(1):
                raw = f.readline(MAX_LINE_BYTES + 1)
                if not raw:
                    return
                if len(raw) > MAX_LINE_BYTES:
                    raise UserError(f"{path}: line {line_no} is over {MAX_LINE_BYTES:,} bytes")
                yield line_no, raw
    except OSError as exc:
        raise UserError(f"{path}: cannot read the input file ({exc.strerror or exc})") from None


def queries_from_jsonl(path: Path) -> list[Query]:
    """One query per line: {"id": ..., "prompt": "..."} or {"id": ..., "messages": [...]}."""
    queries: list[Query] = []
    seen: set[str] = set()
    for line_no, raw in _lines(path):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UserError(f"{path}: line {line_no}: not UTF-8 text (byte {exc.start})") from None
        if not line.strip():
            continue
        try:
            record = loads_json(line)
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}: line {line_no}: invalid JSON: {exc.msg}") from None
        except TooDeep as exc:
            raise UserError(f"{path}: line {line_no}: invalid JSON: {exc}") from None
        query = _query_from_record(record, str(path), line_no)
        if query.id in seen:
            raise UserError(f"{path}: line {line_no}: duplicate id {query.id!r}")
        seen.add(query.id)
        queries.append(query)
    if not queries:
        raise UserError(f"{path}: input file is empty")
    return queries
