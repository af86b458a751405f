"""Budget files: a bare integer (calls per query) or a YAML/JSON file of limits, and the check
that an architecture's static cost fits the budget before any call.

The ``Budget`` type itself belongs to the LLM door (``llm.accountant``), which enforces it."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from archon_cli.config.architecture import Architecture
from archon_cli.config.files import describe_validation_error, read_config_file
from archon_cli.errors import ConfigError, UserError
from archon_cli.llm.accountant import Budget


def load_budget(spec: str | Path) -> Budget:
    """A budget from a YAML/JSON file, or from a bare integer meaning calls per query."""
    text = str(spec).strip()
    if text.lstrip("-").isdigit():
        calls = int(text)
        if calls < 1:
            raise UserError(f"budget {calls} is too small for even one call per query")
        return Budget(name=f"{calls}-calls", calls_per_query=calls)
    path = Path(text)
    data = read_config_file(path, "budget file")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of limits")
    try:
        return Budget.model_validate({"name": path.stem, **data})
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, str(path))) from None


def check_budget(architecture: Architecture, budget: Budget) -> None:
    """Refuse, before any call, an architecture whose static cost the budget cannot pay."""
    cost = architecture.static_calls()
    if budget.calls_per_query is not None and cost > budget.calls_per_query:
        raise UserError(
            f"budget of {budget.calls_per_query} calls per query is below the cost of "
            f"'{architecture.name}': {cost} calls per query"
        )
    if budget.total_calls is not None and cost > budget.total_calls:
        raise UserError(
            f"budget of {budget.total_calls} total calls cannot pay for one query of "
            f"'{architecture.name}' ({cost} calls)"
        )
