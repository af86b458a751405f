"""The edge: the environment is read here, once (data directory, embedded-model threads and folder)."""

from __future__ import annotations

from pathlib import Path

import pytest

from archon_cli.commands.options import EngineOptions
from archon_cli.commands.settings import data_dir_from_env, engine_settings, local_settings, open_gateway
from archon_cli.errors import UserError
from archon_cli.llm.local_models import LocalSettings


def test_data_dir_option_wins_over_the_environment() -> None:
    assert data_dir_from_env(Path("a"), {"ARCHON_DATA_DIR": "b"}) == Path("a")
    assert data_dir_from_env(None, {"ARCHON_DATA_DIR": "b"}) == Path("b")
    assert data_dir_from_env(None, {"ARCHON_DATA_DIR": ""}) is None and data_dir_from_env(None, {}) is None


def test_local_settings_from_the_environment() -> None:
    settings = local_settings({"ARCHON_LOCAL_THREADS": "3", "ARCHON_MODEL_DIR": "/models"})
    assert settings == LocalSettings(threads=3, model_dir=Path("/models"))
    assert local_settings({}) == LocalSettings()
    with pytest.raises(UserError, match="ARCHON_LOCAL_THREADS='many'"):
        local_settings({"ARCHON_LOCAL_THREADS": "many"})


def test_the_gateway_owns_a_pool_with_the_commands_local_settings(tmp_path: Path) -> None:
    options = EngineOptions(budget="5", cache_dir=tmp_path / "cache", concurrency=4, model_limit=["openai/a=2"])
    settings = engine_settings(options)
    gateway = open_gateway(settings)
    assert gateway.local_models.settings == settings.local
    assert settings.budget.calls_per_query == 5 and settings.model_limits == {"openai/a": 2}
    assert (tmp_path / "cache" / "responses.sqlite").exists()
