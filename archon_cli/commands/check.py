"""What ``archon check`` does: validate architecture files (ours and the original Archon's) without
calling any model, for people and CI scripts.

Per file: OK with static calls per query, the models and the warnings, or the one-line error.
Nothing here builds a gateway, so no model, provider library or network is touched.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from archon_cli.components.majority_vote import MajorityVoteConfig
from archon_cli.config.architecture import load_architecture
from archon_cli.errors import EXIT_OK, EXIT_USAGE, ArchonError


def check_file(path: Path) -> dict[str, Any]:
    """The verdict on one file, as the JSON record ``--json`` prints."""
    try:
        architecture, warnings = load_architecture(path)
    except ArchonError as exc:
        return {"file": str(path), "ok": False, "error": str(exc)}
    prefix = f"{path}: "
    return {
        "file": str(path),
        "ok": True,
        "name": architecture.name,
        "static_calls": architecture.static_calls(),
        "layer_calls": architecture.layer_calls(),
        "models": architecture.models(),
        # Adaptive votes (``stop``): the static count is then the most a query may cost.
        "stops": [c.stop.describe() for c in architecture.components() if isinstance(c, MajorityVoteConfig) and c.stop],
        "warnings": [w[len(prefix) :] if w.startswith(prefix) else w for w in warnings],
    }


def run_check(paths: list[Path], json_out: bool) -> int:
    """Check every file (one bad file does not stop the others); exit 0 if all are valid, else 2."""
    records = [check_file(path) for path in paths]
    valid = sum(r["ok"] for r in records)
    if json_out:
        print(json.dumps({"files": records, "valid": valid, "invalid": len(records) - valid}, ensure_ascii=False))
    else:
        for r in records:
            if not r["ok"]:
                print(f"ERROR {r['error']}")
                continue
            per_layer = " + ".join(str(c) for c in r["layer_calls"])
            calls = f"{r['static_calls']} call{'' if r['static_calls'] == 1 else 's'} per query ({per_layer})"
            if r["stops"]:
                calls += f" at most: the vote stops once decided ({', '.join(r['stops'])})"
            print(f"OK    {r['file']}: {calls}; models: {', '.join(r['models'])}")
            for warning in r["warnings"]:
                print(f"      warning: {warning}")
        if len(records) > 1:
            print(f"{valid} of {len(records)} files valid")
    return EXIT_OK if valid == len(records) else EXIT_USAGE
