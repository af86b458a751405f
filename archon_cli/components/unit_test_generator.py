"""Unit test generator: write short checkable statements that a correct answer must satisfy.

The tests come from the query alone, so this may run before the generators. The candidates pass
through unchanged; the tests travel on to a unit test evaluator, and every later layer sees them
appended to the query (``Query.with_unit_tests``).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field

from archon_cli.components.base import LLM, Component, LLMComponentConfig
from archon_cli.llm.types import Message
from archon_cli.state import LayerInput, LayerOutput


class UnitTestGeneratorConfig(LLMComponentConfig):
    type: Literal["unit_test_generator"] = "unit_test_generator"
    single_per_layer = True
    needs_candidates = False  # the tests come from the query alone
    num_tests: int = Field(default=5, ge=1, le=20)

    def call_count(self, n_in: int) -> tuple[int, int]:
        # The tests depend on the query only, so the call is made even with no candidates.
        return 1, n_in


def build_messages(question: str, num_tests: int) -> list[Message]:
    """One user message asking for ``num_tests`` numbered one-line tests."""
    example = "\n".join(f"{k}. ..." for k in range(1, min(num_tests, 3) + 1))
    content = (
        f"Question:\n{question}\n\n"
        f"Write {num_tests} short tests that a correct answer to this question must pass. "
        "Each test is one statement that can be checked by reading an answer, "
        'for example "The answer gives the final number" or "The answer mentions ...". '
        "Write one test per line, numbered, and nothing else:\n"
        f"{example}"
    )
    return [{"role": "user", "content": content}]


# Numbered forms are tried before bullets so "**1.**" loses its bold as well as its number.
_MARKER = re.compile(
    r"^\s*(?:(?:\*\*)?(?:\(?\d+\s*[.):]|\[\d+\]|(?:test|statement)\s*\d+\s*[.):])(?:\*\*)?"
    r"|[-*•]+)\s*",
    re.I,
)


def parse_unit_tests(text: str, limit: int) -> list[str]:
    """The tests in a reply, numbering and bullets stripped, blanks dropped, at most ``limit``.

    When some lines are numbered or bulleted only those count, so a preamble such as
    "Here are the tests:" is not taken for a test.
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    marked = [line for line in lines if _MARKER.match(line)]
    chosen = marked or lines
    tests = []
    for line in chosen:
        test = _MARKER.sub("", line, count=1).strip().strip("*").strip()
        # An unfilled template line ("1. ...") is no test.
        if test and test.strip(". ") != "":
            tests.append(test)
    return tests[: max(limit, 0)]


class UnitTestGenerator(Component[UnitTestGeneratorConfig]):
    kind = "unit_test_generator"
    config_class = UnitTestGeneratorConfig

    async def run(self, layer_input: LayerInput, llm: LLM) -> LayerOutput:
        messages = build_messages(layer_input.asked.text, self.config.num_tests)
        reply = await llm.complete(self.config.request(messages))
        tests = parse_unit_tests(reply.text, self.config.num_tests)
        if not tests:
            llm.note_parse_failure(self.kind)
        decision = {"reply": reply.text, "tests": tests}
        return LayerOutput(candidates=layer_input.candidates, unit_tests=tuple(tests), decision=decision)
