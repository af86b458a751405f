"""The layout of a search folder, ``results/<search-id>/``: its one home. The search writes it
(search/folder.py extends ``SearchLayout`` with the files); ``archon compare`` and ``archon
report`` read it (evaluation/run_folder.load_result), so it lives on this floor.

    search.json      marks the folder as a search's ("kind": "search")
    stage1/<model>   one run folder per pool model (stage 1)
    baseline/dev, baseline/test   one greedy call of the stage-1 best model
    trials/<arch>    one run folder per architecture (a promotion adds questions to it)
    final/<arch>     the finalists on the test split

Read as results, a search is its final/ runs if it has any, else its trials/.
"""

from __future__ import annotations

from pathlib import Path

SEARCH_INFO = "search.json"
FINAL_RUNS, TRIAL_RUNS, STAGE1_RUNS, BASELINE_RUNS = "final", "trials", "stage1", "baseline"


def _run_folders(parent: Path, marker: str) -> list[Path]:
    return sorted(p for p in parent.iterdir() if (p / marker).is_file()) if parent.is_dir() else []


class SearchLayout:
    def __init__(self, path: Path) -> None:
        self.path = path

    def stage1_dir(self, model: str) -> Path:
        return self.path / STAGE1_RUNS / model.replace("/", "_")

    def trial_dir(self, arch_id: str) -> Path:
        return self.path / TRIAL_RUNS / arch_id

    def final_dir(self, arch_id: str) -> Path:
        return self.path / FINAL_RUNS / arch_id

    def baseline_dir(self, split: str) -> Path:
        return self.path / BASELINE_RUNS / split

    def result_folders(self, marker: str) -> tuple[list[Path], str]:
        """The run folders (those holding ``marker``) a search is read as, and their kind: its
        finalists ("final") if it has any, else its trials ("trial")."""
        finals = _run_folders(self.path / FINAL_RUNS, marker)
        return (finals, "final") if finals else (_run_folders(self.path / TRIAL_RUNS, marker), "trial")
