"""Reading YAML/JSON files and turning pydantic errors into one-line messages with field paths."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from archon_cli.errors import ConfigError, UserError
from archon_cli.records import MAX_JSON_DEPTH, TooDeep, loads_json

MAX_CONFIG_BYTES = 5_000_000
MAX_CONFIG_DEPTH = MAX_JSON_DEPTH  # nesting of lists and mappings in a YAML or JSON file


class _Loader(yaml.SafeLoader):
    """Safe YAML that refuses a key given twice in one mapping, and nesting past MAX_CONFIG_DEPTH
    (counted while composing, so a deep file never reaches Python's recursion limit)."""

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > MAX_CONFIG_DEPTH:
                mark = self.peek_event().start_mark
                raise yaml.composer.ComposerError(None, None, f"nested deeper than {MAX_CONFIG_DEPTH} levels", mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r} (first given at line {seen[key] + 1})", key_node.start_mark
                    )
                seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data = dict(pairs)
    if len(data) < len(pairs):
        seen: set[str] = set()
        raise _DuplicateKey(next(k for k, _ in pairs if k in seen or seen.add(k)))  # type: ignore[func-returns-value]
    return data


class _DuplicateKey(ValueError):
    pass


def check_file(path: Path, what: str = "file", max_bytes: int = MAX_CONFIG_BYTES) -> None:
    """A UserError unless ``path`` is a file of at most ``max_bytes`` (it is not read)."""
    if not path.exists():
        raise UserError(f"{path}: {what} not found")
    if path.is_dir():
        raise UserError(f"{path}: is a directory, expected a {what}")
    size = path.stat().st_size
    if size > max_bytes:
        raise UserError(f"{path}: {what} is {size:,} bytes, over the limit of {max_bytes:,}")


def read_text(path: Path, what: str = "file", max_bytes: int = MAX_CONFIG_BYTES) -> str:
    """A UTF-8 text file's contents, or a UserError saying why it cannot be used."""
    check_file(path, what, max_bytes)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    if not text.strip():
        raise UserError(f"{path}: {what} is empty")
    return text


def read_config_file(path: Path, what: str = "config file") -> Any:
    """Parse a .yaml/.yml/.json file (JSON is also accepted by the YAML branch). A key given twice,
    or nesting deeper than MAX_CONFIG_DEPTH, is an error."""
    text = read_text(path, what)
    if path.suffix.lower() == ".json":
        try:
            return loads_json(text, MAX_CONFIG_DEPTH, object_pairs_hook=_unique_keys)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
        except TooDeep as exc:
            raise ConfigError(f"{path}: invalid JSON: {exc}") from None
        except _DuplicateKey as exc:
            raise ConfigError(f"{path}: invalid JSON: duplicate key {exc.args[0]!r}") from None
    try:
        return yaml.load(text, Loader=_Loader)  # _Loader is a SafeLoader
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
