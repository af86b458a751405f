"""Golden test: the length-controlled win rate against tatsu-lab/alpaca_eval's own code (PyPI
``alpaca-eval``, ``alpaca_eval.metrics.glm_winrate.get_length_controlled_winrate``) on the same
annotations, for its three GLMs, with a difficulty series and gamed-baseline rows supplied by the
test (the official code downloads them from the hub: the download is replaced by the test's file).

alpaca_eval's ``utils`` imports ``pkg_resources``, which setuptools 81+ no longer ships; a test-only
shim provides the two functions it uses.
"""

from __future__ import annotations

import importlib.metadata
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from packaging.version import parse as parse_version

from archon_cli.benchmarks.alpaca_eval import length_controlled_win_rate, read_gamed_rows

N = 80


@pytest.fixture(scope="module")
def glm() -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as patch:
        if "pkg_resources" not in sys.modules:
            shim = types.ModuleType("pkg_resources")
            shim.parse_version = parse_version  # type: ignore[attr-defined]
            shim.get_distribution = lambda name: types.SimpleNamespace(version=importlib.metadata.version(name))  # type: ignore[attr-defined]
            patch.setitem(sys.modules, "pkg_resources", shim)
        module = pytest.importorskip("alpaca_eval.metrics.glm_winrate")
        yield module


def synthetic(seed: int, tmp_path: Path) -> tuple[pd.DataFrame, Path]:
    """Annotations of one model against the baseline (preference in [1, 2]; some ties, some exact
    0/1), and a df_gamed.csv whose first N rows give instruction i its difficulty."""
    rng = np.random.default_rng(seed)
    difficulty = rng.normal(0, 1, N)
    rows = [
        {
            "model": model,
            "index": i,
            "instruction_difficulty": difficulty[i],
            "preference": float(rng.uniform(0, 1)),
            "std_delta_len": float(rng.normal()),
            "not_gamed_baseline": False,
        }
        for model in ("gamed_verbose", "gamed_concise")
        for i in range(N)
    ]
    gamed = tmp_path / f"df_gamed_{seed}.csv"
    pd.DataFrame(rows).to_csv(gamed, index=False)
    len_baseline = rng.integers(200, 2000, N)
    len_model = rng.integers(200, 2000, N)
    signal = 0.35 * np.tanh((len_model - len_baseline) / 600) - 0.15 * difficulty + 0.2 * rng.normal(size=N)
    preference = np.clip(1.5 + signal, 1, 2)
    preference[:5] = [1.0, 2.0, 1.5, 2.0, 1.0]
    annotations = pd.DataFrame(
        {
            "preference": preference,
            "output_1": ["x" * int(n) for n in len_baseline],
            "output_2": ["y" * int(n) for n in len_model],
            "generator_1": "gpt4_1106_preview",
            "generator_2": "archon",
        }
    )
    return annotations, gamed


def official(glm: Any, annotations: pd.DataFrame, gamed: Path, name: str, patch: pytest.MonkeyPatch) -> dict[str, float]:
    patch.setattr(glm, "hf_hub_download", lambda **kw: str(gamed))
    metrics = glm.get_length_controlled_winrate(
        annotations.copy(), glm_name=name, save_weights_dir=None, is_warn_extreme_changes=False
    )
    return {"win_rate": metrics["win_rate"] / 100, "lc": metrics["length_controlled_winrate"] / 100}


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(
    "name", ["length_controlled_v1", "length_controlled_noreg", "length_controlled_minimal"]
)
def test_lc_win_rate_matches_the_official_glm(
    glm: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int, name: str
) -> None:
    annotations, gamed_path = synthetic(seed, tmp_path)
    expected = official(glm, annotations, gamed_path, name, monkeypatch)
    by_index, gamed = read_gamed_rows(gamed_path)
    difficulty = [by_index[i] for i in range(N)]
    ours = length_controlled_win_rate(
        annotations["preference"].to_numpy() - 1,
        annotations["output_2"].str.len(),
        annotations["output_1"].str.len(),
        difficulty if name != "length_controlled_minimal" else None,
        gamed if name == "length_controlled_v1" else None,
    )
    assert ours["lc_variant"] == name
    assert ours["win_rate"] == pytest.approx(expected["win_rate"], abs=1e-9)
    assert ours["lc_win_rate"] == pytest.approx(expected["lc"], abs=1e-6)
