"""What flows between layers: the query, the candidates (with their critiques) and unit tests."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from archon_cli.llm.types import Message


@dataclass(frozen=True)
class Query:
    """A user query: one or more chat messages (multi-turn conversations end with a user turn).

    A benchmark's query also says what its last user turn is made of, so a generator's prompt
    style can rewrite it: ``question`` (the turn without the answer-format instruction),
    ``instruction`` (that instruction, which the messages append to every user turn) and
    ``examples``, worked (question, answer) pairs for few-shot prompts. A query from elsewhere
    (``archon run``, the server) has only its messages: ``question`` None."""

    messages: tuple[Message, ...]
    id: str = ""
    question: str | None = None
    instruction: str = ""
    examples: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_prompt(cls, prompt: str, id: str = "") -> Query:
        return cls(messages=({"role": "user", "content": prompt},), id=id)

    @property
    def text(self) -> str:
        """The conversation as plain text, for prompts that quote the query to a judge or fuser."""
        turns = [m for m in self.messages if m.get("role") != "system"]
        if len(turns) == 1:
            return turns[0]["content"]
        return "\n\n".join(f"{m['role'].capitalize()}: {m['content']}" for m in turns)

    def with_unit_tests(self, tests: tuple[str, ...]) -> Query:
        """The query as components see it once unit tests are written: the tests appended to its
        last user turn, so generators aim at them and fusers, rankers and critics know them (as in
        the original Archon). A new query; this one is unchanged."""
        if not tests:
            return self
        listed = "\n".join(f"- {test}" for test in tests)
        note = f"\n\nA correct answer passes these tests:\n{listed}"
        messages = [dict(m) for m in self.messages]
        last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=None)
        if last_user is None:
            messages.append({"role": "user", "content": note.strip()})
        else:
            messages[last_user]["content"] = messages[last_user]["content"] + note
        question = None if self.question is None else self.question + note
        return replace(self, messages=tuple(messages), question=question)


@dataclass(frozen=True)
class Candidate:
    """One candidate answer. Its critique, once written, travels with it through later layers."""

    text: str
    critique: str | None = None
    origin: str = ""


@dataclass(frozen=True)
class LayerInput:
    """What a layer receives. ``query`` is the query as components see it (with the unit tests
    appended once a unit-test generator wrote them); ``asked`` is the query as the user asked it."""

    query: Query
    candidates: tuple[Candidate, ...] = ()
    unit_tests: tuple[str, ...] = ()
    original: Query | None = None  # the query before unit tests were appended (None: ``query``)

    @property
    def asked(self) -> Query:
        return self.original if self.original is not None else self.query


@dataclass(frozen=True)
class LayerOutput:
    """A component's result. ``unit_tests`` None means: pass the incoming tests on unchanged.
    ``decision`` is what the component decided, for the question's trace (``engine.trace``): plain
    JSON data (a ranker's parsed order, a critic's reply, verdicts, vote counts); every string in
    it is a text the trace stores once per question."""

    candidates: tuple[Candidate, ...]
    unit_tests: tuple[str, ...] | None = None
    notes: dict[str, int] = field(default_factory=dict)
    decision: dict[str, Any] = field(default_factory=dict)
