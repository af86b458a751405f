"""Budgets: limits on calls per query, total calls, tokens and dollars."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from archon_cli.config.files import describe_validation_error, read_config_file
from archon_cli.errors import ConfigError, UserError


class Budget(BaseModel):
    """Every limit is optional; None means unlimited."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "budget"
    calls_per_query: int | None = Field(default=None, ge=1)
    total_calls: int | None = Field(default=None, ge=1)
    total_tokens: int | None = Field(default=None, ge=1)
    dollars: float | None = Field(default=None, gt=0)

    def describe(self) -> str:
        parts = [
            f"{label} {value}"
            for label, value in (
                ("calls/query", self.calls_per_query),
                ("total calls", self.total_calls),
                ("tokens", self.total_tokens),
                ("dollars", self.dollars),
            )
            if value is not None
        ]
        return ", ".join(parts) or "unlimited"


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
