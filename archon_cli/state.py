"""What flows between layers: the query, the candidates (with their critiques) and unit tests."""

from __future__ import annotations

from dataclasses import dataclass, field

from archon_cli.llm.types import Message


@dataclass(frozen=True)
class Query:
    """A user query: one or more chat messages (multi-turn conversations end with a user turn)."""

    messages: tuple[Message, ...]
    id: str = ""

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


@dataclass(frozen=True)
class Candidate:
    """One candidate answer. Its critique, once written, travels with it through later layers."""

    text: str
    critique: str | None = None
    origin: str = ""


@dataclass(frozen=True)
class LayerInput:
    query: Query
    candidates: tuple[Candidate, ...] = ()
    unit_tests: tuple[str, ...] = ()


@dataclass(frozen=True)
class LayerOutput:
    """A component's result. ``unit_tests`` None means: pass the incoming tests on unchanged."""

    candidates: tuple[Candidate, ...]
    unit_tests: tuple[str, ...] | None = None
    notes: dict[str, int] = field(default_factory=dict)
