"""Pull Python code out of a model's reply (pure functions, no execution).

Replies come as prose around fenced blocks, a bare function, or a bare function body (a completion
of the prompt). ``extract_code`` finds the code; ``keep_definitions`` drops top-level demo code
(``print(f(3))``, ``if __name__ == "__main__":`` blocks, example asserts) that would make a correct
function fail its tests, the way most code benchmarks sanitise model output.
"""

from __future__ import annotations

import ast
import re
import textwrap

_FENCE = re.compile(r"^[ \t]*```[ \t]*([\w+#.-]*)[^\n]*\n(.*?)(?:^[ \t]*```[ \t]*$|\Z)", re.M | re.S)
_PYTHON_TAGS = {"", "python", "py", "python3", "py3", "python2", "pycon"}
# First line of unfenced code: a definition, an import, a decorator or a comment.
_CODE_START = re.compile(r"^(?:async\s+def |def |class |import |from \S+ import |@\w)", re.M)


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """``(language, code)`` for each fenced block, in order. A final unclosed fence (a reply cut by
    max_tokens) runs to the end of the text."""
    return [(m.group(1).lower(), textwrap.dedent(m.group(2))) for m in _FENCE.finditer(text)]


def defines(code: str, name: str) -> bool:
    """Whether ``code`` defines a function ``name`` (at any indentation, so methods count too)."""
    return re.search(rf"^[ \t]*(?:async[ \t]+)?def[ \t]+{re.escape(name)}[ \t]*\(", code, re.M) is not None


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True


def _unfenced(text: str) -> str | None:
    """Code that starts at the first definition/import line, trimmed of trailing prose."""
    match = _CODE_START.search(text)
    if match is None:
        return None
    lines = text[match.start() :].splitlines()
    # Drop trailing lines until it parses (prose after the code); keep the whole thing if nothing does.
    for end in range(len(lines), 0, -1):
        candidate = "\n".join(lines[:end]).rstrip()
        if _parses(candidate):
            return candidate + "\n"
    return "\n".join(lines).rstrip() + "\n"


def extract_code(reply: str, entry_point: str | None = None) -> str:
    """The code in ``reply``: the fenced block defining ``entry_point`` if there is one, else the
    longest Python block, else unfenced code from its first definition/import, else the reply."""
    blocks = fenced_blocks(reply)
    python = [code for lang, code in blocks if lang in _PYTHON_TAGS]
    if entry_point:
        for code in python or [code for _, code in blocks]:
            if defines(code, entry_point):
                return code
    if python:
        return max(python, key=lambda code: len(code.strip()))
    if blocks:
        return max((code for _, code in blocks), key=lambda code: len(code.strip()))
    if entry_point is not None and not defines(reply, entry_point) and not _CODE_START.search(reply):
        return reply
    return _unfenced(reply) or reply


_KEPT = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Assign, ast.AnnAssign)


def keep_definitions(code: str) -> str:
    """``code`` without top-level statements other than imports, definitions and assignments.

    Code that does not parse is returned unchanged (running it reports the syntax error)."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return code
    lines = code.splitlines(keepends=True)
    drop: set[int] = set()
    for node in tree.body:
        if not isinstance(node, _KEPT) and node.end_lineno is not None:
            drop.update(range(node.lineno - 1, node.end_lineno))
    if not drop:
        return code
    return "".join(line for index, line in enumerate(lines) if index not in drop)


def as_function_body(code: str) -> str:
    """A completion that continues a function's signature and docstring: indented by four spaces
    when its first line is not indented (chat models often drop the indentation)."""
    stripped = code.strip("\n")
    first = next((line for line in stripped.splitlines() if line.strip()), "")
    if first and not first[0].isspace():
        return textwrap.indent(stripped, "    ") + "\n"
    return stripped + "\n"
