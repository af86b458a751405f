"""Code extraction from replies: fenced blocks, unclosed fences, unfenced code, bare bodies, demo code."""

from __future__ import annotations

from archon_cli.execution.extract import as_function_body, extract_code, fenced_blocks, keep_definitions


def test_extracts_the_fenced_block_that_defines_the_function() -> None:
    text = (
        "First a helper:\n```python\ndef helper(x):\n    return x\n```\n"
        "Then the answer:\n```python\ndef solve(a):\n    return helper(a) + 1\n```\n"
        "Example:\n```\n>>> solve(1)\n2\n```"
    )
    assert [lang for lang, _ in fenced_blocks(text)] == ["python", "python", ""]
    assert extract_code(text, "solve").startswith("def solve(a):")
    assert extract_code(text).startswith("def ")  # without a name: the longest Python block


def test_extracts_an_unclosed_fence_cut_by_max_tokens() -> None:
    text = "Sure!\n```python\ndef f(x):\n    total = 0\n    for i in range(x):\n        total += i"
    assert extract_code(text, "f") == "def f(x):\n    total = 0\n    for i in range(x):\n        total += i"


def test_extracts_unfenced_code_without_the_prose_around_it() -> None:
    text = "You can do it like this:\nimport math\n\ndef area(r):\n    return math.pi * r * r\n\nThis returns the area."
    assert extract_code(text, "area") == "import math\n\ndef area(r):\n    return math.pi * r * r\n"


def test_a_bare_body_is_kept_and_indented() -> None:
    body = "return number % 1.0"
    assert extract_code(body, "truncate_number") == body
    assert as_function_body(body) == "    return number % 1.0\n"
    assert as_function_body("    return 1\n") == "    return 1\n"


def test_keep_definitions_drops_demo_code_and_main_guard() -> None:
    code = (
        "import os\nLIMIT = 3\n\ndef f(x):\n    return x + LIMIT\n\nprint(f(1))\nassert f(0) == 99\n"
        "if __name__ == '__main__':\n    f(input())\n"
    )
    kept = keep_definitions(code)
    assert kept == "import os\nLIMIT = 3\n\ndef f(x):\n    return x + LIMIT\n\n"
    assert keep_definitions("def broken(:\n") == "def broken(:\n"
