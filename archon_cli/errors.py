"""Exceptions the CLI turns into one-line messages and stable exit codes.

Exit codes: 0 success, 1 the run failed (provider errors, failed queries),
2 the user's input is wrong (config, model, key, data, options), 3 a budget limit stopped the run.
"""

from __future__ import annotations

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BUDGET = 0, 1, 2, 3


class ArchonError(Exception):
    """Base class for errors archon reports without a traceback."""

    exit_code = EXIT_FAILED


class UserError(ArchonError):
    """Something the user can fix: a bad file, option, model name, key or budget."""

    exit_code = EXIT_USAGE


class EmbeddedModelCrashed(UserError):
    """llama.cpp died of a signal. Every later call would crash the same way, so the command stops
    (exit 1) with one line saying what to try; like a UserError it is never retried or recorded as
    one question's failure."""

    exit_code = EXIT_FAILED


class ConfigError(UserError):
    """An architecture, budget or search-space file is invalid."""


class BudgetExceeded(ArchonError):
    """A budget limit was reached; no further call is sent."""

    exit_code = EXIT_BUDGET


class ProviderError(ArchonError):
    """A model provider failed for good (after retries, or a non-retryable error)."""

    exit_code = EXIT_FAILED


class TransientProviderError(ProviderError):
    """A failure worth retrying: 429, 5xx, timeout, dropped connection, a reply with no choices."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
