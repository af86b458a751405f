"""Reading YAML/JSON files and turning pydantic errors into one-line messages with field paths."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from archon_cli.errors import ConfigError, UserError

MAX_CONFIG_BYTES = 5_000_000


def read_text(path: Path, what: str = "file", max_bytes: int = MAX_CONFIG_BYTES) -> str:
    """A UTF-8 text file's contents, or a UserError saying why it cannot be used."""
    if not path.exists():
        raise UserError(f"{path}: {what} not found")
    if path.is_dir():
        raise UserError(f"{path}: is a directory, expected a {what}")
    size = path.stat().st_size
    if size > max_bytes:
        raise UserError(f"{path}: {what} is {size:,} bytes, over the limit of {max_bytes:,}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    if not text.strip():
        raise UserError(f"{path}: {what} is empty")
    return text


def read_config_file(path: Path, what: str = "config file") -> Any:
    """Parse a .yaml/.yml/.json file (JSON is also accepted by the YAML branch)."""
    text = read_text(path, what)
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}: invalid YAML{where}: {problem}") from None


def field_path(loc: tuple[int | str, ...], tags: frozenset[str] = frozenset()) -> str:
    """('layers', 2, 0, 'ranker', 'top_k') -> 'layers[2][0].top_k' (union tags dropped)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in tags:
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


def describe_validation_error(exc: ValidationError, source: str, tags: frozenset[str] = frozenset()) -> str:
    """First error of a pydantic ValidationError as 'source: path: message' (+ how many more)."""
    errors = exc.errors()
    first = errors[0]
    path = field_path(tuple(first["loc"]), tags)
    msg = first["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if first["type"] == "extra_forbidden":
        msg = "unknown key"
    elif first["type"] == "union_tag_invalid":
        ctx = first.get("ctx") or {}
        msg = f"unknown component type {ctx.get('tag')!r} (expected one of {ctx.get('expected_tags')})"
    elif first["type"] == "union_tag_not_found":
        msg = "component has no 'type'"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{source}: {path + ': ' if path else ''}{msg}{more}"
