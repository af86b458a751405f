"""Generator: sample candidate answers from one model. Several generators in a layer form an ensemble.

Its prompt style is part of its settings, and every prompt it sends is worded here:
- ``prompt_format``: ``chat`` sends the query's messages (zero-shot); ``few_shot_chat`` puts the
  benchmark's worked examples first, as earlier user/assistant turns; ``few_shot_completion``
  sends a plain "Q: ... / A: ..." transcript of the examples and the question for the model to
  continue (no chat template), stopped at the end of the answer line.
- ``answer_format``: the instruction appended to the question (and to each example's question);
  unset keeps the benchmark's own (tiny-arith: " Answer with just the number."), "" drops it.
- ``system_prompt``: replaces the query's system message (in a transcript, its first line).
- ``prompt_format: program`` (program of thought): our own worked examples, each a question and a
  short Python program that prints its answer, then the question, for the model to write its
  program; the program runs in a reused sandbox (``execution/programs.py``) and its last printed
  line is the candidate. A program that fails has an empty candidate that keeps the error (a vote
  ignores it); ``repair: N`` sends the program and its error back for up to N more tries.
A query that is not a benchmark question (``archon run``, the server) has no examples and no
separate instruction: its last user turn is the question, and few-shot formats prompt zero-shot.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from pydantic import Field, model_validator

from archon_cli.components.base import LLM, Component, LLMComponentConfig, sample
from archon_cli.execution.programs import ProgramOutcome, run_program
from archon_cli.llm.types import CompletionRequest, Message
from archon_cli.state import Candidate, LayerInput, LayerOutput, Query

PromptFormat = Literal["chat", "few_shot_chat", "few_shot_completion", "program"]
DEFAULT_SHOTS = 8
MAX_REPAIR = 5


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
    repair: int = Field(
        default=0, ge=0, le=MAX_REPAIR, description="program format: more tries for a failed program, its error shown"
    )

    @model_validator(mode="after")
    def _shots_need_few_shot(self) -> GeneratorConfig:
        # (a dumped config holds the default: it must load again)
        if self.shots != DEFAULT_SHOTS and self.prompt_format == "chat":
            raise ValueError(
                "shots: only few_shot_chat, few_shot_completion and program show examples (prompt_format is chat)"
            )
        if self.repair and self.prompt_format != "program":
            raise ValueError(
                f"repair: only the program format runs what it gets (prompt_format is {self.prompt_format})"
            )
        return self

    def call_count(self, n_in: int) -> tuple[int, int]:
        # An upper bound: a repair is sent only for a program that failed.
        return self.samples * (1 + self.repair), self.samples


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


# The program format's worked examples (written for archon): questions of several kinds, each with
# a short program that prints only the answer. The transcript opens a fenced block after the
# question, so the model writes code and stops at the closing fence.
PROGRAM_INSTRUCTION = "Answer each question with a short Python program that prints only the answer."
PROGRAM_EXAMPLES: tuple[tuple[str, str], ...] = (
    ("What is 23 + 48?", "print(23 + 48)"),
    ("Which is larger, 61 or 16?", "print(max(61, 16))"),
    ("What is 15 - 9?", "print(15 - 9)"),
    ("A box holds 6 eggs. How many eggs are in 7 boxes?", "eggs_per_box = 6\nboxes = 7\nprint(eggs_per_box * boxes)"),
    ("How many letters are in the word 'window'?", "print(len('window'))"),
    ("Sam had 30 stickers and gave 12 away. How many are left?", "stickers = 30\ngiven = 12\nprint(stickers - given)"),
    ("What is the last letter of the word 'garden'?", "print('garden'[-1])"),
    ("Is 21 an even number? Answer yes or no.", "print('yes' if 21 % 2 == 0 else 'no')"),
)
_FENCE_OPEN, _FENCE_CLOSE = "```python\n", "```"


def program_prompt(query: Query, config: GeneratorConfig) -> tuple[str, tuple[str, ...]]:
    """The program format's transcript and stop strings: the instruction (or ``system_prompt``),
    the examples as "Question: ..." lines each followed by its program in a fenced block, then the
    question and an opened block. The benchmark's answer-format instruction is left out (the
    program prints the answer) unless ``answer_format`` sets one."""
    before, question, _, _ = _parts(query, config)
    instruction = config.answer_format or ""
    system = config.system_prompt or PROGRAM_INSTRUCTION
    lines = [system.strip()]
    for q, program in PROGRAM_EXAMPLES[: config.shots]:
        lines += ["", f"Question: {q}", _FENCE_OPEN + program + "\n" + _FENCE_CLOSE]
    earlier = [f"{m['role'].capitalize()}: {m['content'].strip()}" for m in before if m.get("role") != "system"]
    if earlier:
        lines += ["", *earlier]
    lines += ["", f"Question: {question}{instruction}", _FENCE_OPEN.rstrip("\n")]
    return "\n".join(lines) + "\n", (_FENCE_CLOSE, "\nQuestion:")


def repair_prompt(prompt: str, outcome: ProgramOutcome) -> str:
    """The transcript extended with the failed program, its error and an opened block for a new one."""
    return (
        f"{prompt}{outcome.program.rstrip()}\n{_FENCE_CLOSE}\n"
        f"That program failed ({outcome.error}). A corrected program:\n{_FENCE_OPEN}"
    )


def request(query: Query, config: GeneratorConfig) -> CompletionRequest:
    """The request every sample repeats, in the generator's prompt style (``sample`` sends the
    samples together, with ``n``, where the provider takes it)."""
    if config.prompt_format == "few_shot_completion":
        prompt, stop = completion_prompt(query, config)
        return config.request((), stop=stop, prompt=prompt)
    if config.prompt_format == "program":
        prompt, stop = program_prompt(query, config)
        return config.request((), stop=stop, prompt=prompt)
    return config.request(chat_messages(query, config))


class Generator(Component[GeneratorConfig]):
    kind = "generator"
    config_class = GeneratorConfig

    async def run(self, layer_input: LayerInput, llm: LLM) -> LayerOutput:
        candidates = await self.draw(layer_input, llm, 0, self.config.samples)
        if self.config.prompt_format == "program":
            return LayerOutput(
                candidates=candidates,
                decision={"programs": [c.program for c in candidates], "errors": [c.error for c in candidates]},
            )
        return LayerOutput(candidates=candidates)

    async def draw(self, layer_input: LayerInput, llm: LLM, start: int, count: int) -> tuple[Candidate, ...]:
        """Samples ``start`` to ``start + count - 1`` of this generator (an adaptive vote draws them
        in rounds: the query's sample slots continue where the last round stopped). A program
        sample's candidate is what its program printed (empty, with the error, when it failed)."""
        first = request(layer_input.query, self.config)
        replies = await sample(llm, first, count)
        origin = f"generator:{self.config.model}"
        if self.config.prompt_format == "program":
            outcomes = await asyncio.gather(*(self._program(first, r.text, llm) for r in replies))
            return tuple(
                Candidate(text=o.answer, origin=f"{origin}#{start + i}", program=o.program, error=o.error)
                for i, o in enumerate(outcomes)
            )
        return tuple(Candidate(text=r.text.strip(), origin=f"{origin}#{start + i}") for i, r in enumerate(replies))

    async def _program(self, first: CompletionRequest, reply: str, llm: LLM) -> ProgramOutcome:
        """Run the program of one sample; while it fails and repairs are left, ask for a corrected
        one (each a call). A failure is counted (``program`` in the parse failures) and kept."""
        outcome = await run_program(reply)
        prompt = first.prompt or ""
        for _ in range(self.config.repair):
            if outcome.error is None:
                break
            prompt = repair_prompt(prompt, outcome)
            fixed = await llm.complete(self.config.request((), stop=first.stop, prompt=prompt, step="repair"))
            outcome = await run_program(fixed.text)
        if outcome.error is not None:
            llm.note_parse_failure("generator:program")
        return outcome
