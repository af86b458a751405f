"""Generator: sample candidate answers from one model. Several generators in a layer form an ensemble.

Its prompt style is part of its settings, and every prompt it sends is worded here:
- ``prompt_format``: ``chat`` sends the query's messages (zero-shot); ``few_shot_chat`` puts the
  benchmark's worked examples first, as earlier user/assistant turns; ``few_shot_completion``
  sends a plain "Q: ... / A: ..." transcript of the examples and the question for the model to
  continue (no chat template), stopped at the end of the answer line.
- ``answer_format``: the instruction appended to the question (and to each example's question);
  unset keeps the benchmark's own (tiny-arith: " Answer with just the number."), "" drops it.
- ``system_prompt``: replaces the query's system message (in a transcript, its first line).
A query that is not a benchmark question (``archon run``, the server) has no examples and no
separate instruction: its last user turn is the question, and few-shot formats prompt zero-shot.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from archon_cli.components.base import LLM, Component, LLMComponentConfig, sample
from archon_cli.llm.types import CompletionRequest, Message
from archon_cli.state import Candidate, LayerInput, LayerOutput, Query

PromptFormat = Literal["chat", "few_shot_chat", "few_shot_completion"]
DEFAULT_SHOTS = 8


class GeneratorConfig(LLMComponentConfig):
    type: Literal["generator"] = "generator"
    opens = True
    needs_candidates = False
    mixes = True
    samples: int = Field(default=1, ge=1, le=256)
    temperature: float = Field(default=0.7, ge=0.0, le=2.0)
    system_prompt: str | None = None
    prompt_format: PromptFormat = "chat"
    shots: int = Field(
        default=DEFAULT_SHOTS, ge=0, le=64, description="worked examples a few-shot format shows at most"
    )
    answer_format: str | None = Field(
        default=None, description="instruction appended to the question; unset: the benchmark's own, '': none"
    )

    @model_validator(mode="after")
    def _shots_need_few_shot(self) -> GeneratorConfig:
        # (a dumped config holds the default: it must load again)
        if self.shots != DEFAULT_SHOTS and self.prompt_format == "chat":
            raise ValueError("shots: only few_shot_chat and few_shot_completion show examples (prompt_format is chat)")
        return self

    def call_count(self, n_in: int) -> tuple[int, int]:
        return self.samples, self.samples


def build_messages(query_messages: tuple[Message, ...], system_prompt: str | None) -> list[Message]:
    """The query's messages, with our system prompt first if one is set. Never mutates the input."""
    messages = [dict(m) for m in query_messages]
    if system_prompt:
        messages = [m for m in messages if m.get("role") != "system"]
        messages.insert(0, {"role": "system", "content": system_prompt})
    return messages


def _parts(query: Query, config: GeneratorConfig) -> tuple[list[Message], str, str, tuple[tuple[str, str], ...]]:
    """(system and earlier turns, the question, its instruction, the examples) of ``query``."""
    messages = [dict(m) for m in query.messages]
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=None)
    if last_user is None:
        return messages, "", "", ()
    before = messages[:last_user]
    if query.question is None:  # not a benchmark question: the turn is the question, as asked
        question, instruction = messages[last_user]["content"], ""
    else:
        question, instruction = query.question, query.instruction
    if config.answer_format is not None:
        instruction = config.answer_format
    examples = query.examples[: config.shots] if config.prompt_format != "chat" else ()
    return before, question, instruction, examples


def chat_messages(query: Query, config: GeneratorConfig) -> list[Message]:
    """The messages of the chat formats. ``chat`` without an ``answer_format`` sends the query's
    own messages (with ``system_prompt`` in front, if set)."""
    if config.prompt_format == "chat" and config.answer_format is None:
        return build_messages(query.messages, config.system_prompt)
    before, question, instruction, examples = _parts(query, config)
    system = [m for m in before if m.get("role") == "system"]
    history = [m for m in before if m.get("role") != "system"]
    shown: list[Message] = []
    for q, a in examples:
        shown += [{"role": "user", "content": q + instruction}, {"role": "assistant", "content": a}]
    messages = [*system, *shown, *history, {"role": "user", "content": question + instruction}]
    return build_messages(tuple(messages), config.system_prompt)


def completion_prompt(query: Query, config: GeneratorConfig) -> tuple[str, tuple[str, ...]]:
    """The ``few_shot_completion`` transcript and its stop strings: the examples, the earlier turns
    and the question as "Q: ..." / "A: ..." lines, ending in "A:". It stops at the end of the line
    when every example's answer is one line (or there are none), else where a next "Q:" begins."""
    before, question, instruction, examples = _parts(query, config)
    system = config.system_prompt or next((m["content"] for m in before if m.get("role") == "system"), "")
    lines = [system.strip()] if system.strip() else []
    for q, a in examples:
        lines += [f"Q: {q}{instruction}", f"A: {a}"]
    for m in before:
        if m.get("role") != "system":
            lines.append(f"{'Q' if m.get('role') == 'user' else 'A'}: {m['content'].strip()}")
    lines += [f"Q: {question}{instruction}", "A:"]
    one_line = all("\n" not in a.strip() for _, a in examples)
    return "\n".join(lines), ("\n",) if one_line else ("\nQ:",)


def request(query: Query, config: GeneratorConfig) -> CompletionRequest:
    """The request every sample repeats, in the generator's prompt style (``sample`` sends the
    samples together, with ``n``, where the provider takes it)."""
    if config.prompt_format == "few_shot_completion":
        prompt, stop = completion_prompt(query, config)
        return config.request((), stop=stop, prompt=prompt)
    return config.request(chat_messages(query, config))


class Generator(Component[GeneratorConfig]):
    kind = "generator"
    config_class = GeneratorConfig

    async def run(self, layer_input: LayerInput, llm: LLM) -> LayerOutput:
        return LayerOutput(candidates=await self.draw(layer_input, llm, 0, self.config.samples))

    async def draw(self, layer_input: LayerInput, llm: LLM, start: int, count: int) -> tuple[Candidate, ...]:
        """Samples ``start`` to ``start + count - 1`` of this generator (an adaptive vote draws them
        in rounds: the query's sample slots continue where the last round stopped)."""
        replies = await sample(llm, request(layer_input.query, self.config), count)
        origin = f"generator:{self.config.model}"
        return tuple(Candidate(text=r.text.strip(), origin=f"{origin}#{start + i}") for i, r in enumerate(replies))
