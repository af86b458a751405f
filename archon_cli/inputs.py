"""Reading queries: a prompt, a prompt file, or a JSONL file of queries."""

from __future__ import annotations

import json
from pathlib import Path

from archon_cli.config.files import read_text
from archon_cli.errors import UserError
from archon_cli.records import TooDeep, loads_json
from archon_cli.state import Query

MAX_PROMPT_BYTES = 1_000_000


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
        return Query(messages=tuple({"role": str(m["role"]), "content": m["content"]} for m in messages), id=qid)
    prompt = record.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise UserError(f"{where}: line {line_no}: needs a non-empty 'prompt' or 'messages'")
    if len(prompt.encode("utf-8")) > MAX_PROMPT_BYTES:
        raise UserError(f"{where}: line {line_no}: prompt is over {MAX_PROMPT_BYTES:,} bytes")
    return Query.from_prompt(prompt, id=qid)


def queries_from_jsonl(path: Path) -> list[Query]:
    """One query per line: {"id": ..., "prompt": "..."} or {"id": ..., "messages": [...]}."""
    text = read_text(path, "input file", max_bytes=200_000_000)
    queries: list[Query] = []
    seen: set[str] = set()
    for line_no, line in enumerate(text.splitlines(), start=1):
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
    return queries
