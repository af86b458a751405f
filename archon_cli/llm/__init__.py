"""The single door to language models: cache -> budget accountant -> retry -> LiteLLM or the embedded models."""

from archon_cli.llm.types import Completion, CompletionRequest, Message, Usage

__all__ = ["Completion", "CompletionRequest", "Message", "Usage"]
