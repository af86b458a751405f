"""Which control-group hierarchy caps a sandbox run's tree: cgroup v2 where the evaluator's group
delegates memory and pids, else cgroup v1's memory (and pids) hierarchies, else none; the groups a
run gets, and the removal of groups left by a killed evaluator. (A fake /sys/fs/cgroup in a
temporary folder; the real one is exercised by test_sandbox.py's memory test.)"""

from __future__ import annotations

from pathlib import Path

from archon_cli.execution.cgroups import find_cgroups, make_run_groups, remove_stale


def v2_tree(root: Path, delegated: bool) -> str:
    own = root / "unified" / "user.slice"
    own.mkdir(parents=True)
    (own / "cgroup.controllers").write_text("cpu memory pids\n")
    (own / "cgroup.subtree_control").write_text("memory pids\n" if delegated else "")
    return f"41 31 0:38 / {root}/unified rw,relatime - cgroup2 cgroup2 rw\n"


def v1_tree(root: Path) -> str:
    (root / "memory" / "job").mkdir(parents=True)
    (root / "pids").mkdir()
    return (
        f"35 31 0:32 / {root}/memory rw,relatime - cgroup cgroup rw,memory\n"
        f"39 31 0:36 / {root}/pids rw,relatime - cgroup cgroup rw,pids\n"
    )


def test_v2_is_used_where_the_own_group_delegates_memory_and_pids(tmp_path: Path) -> None:
    mounts = v2_tree(tmp_path, delegated=True) + v1_tree(tmp_path)
    support = find_cgroups(mounts, "0::/user.slice\n4:memory:/job\n8:pids:/\n")
    assert support is not None and support.version == "cgroup-v2"
    groups = make_run_groups(support, memory_mb=256, max_processes=20)
    (group,) = groups.dirs
    assert (group / "memory.max").read_text() == str(256 * 1024 * 1024)
    assert (group / "pids.max").read_text() == "20" and (group / "memory.swap.max").read_text() == "0"
    assert groups.procs == [str(group / "cgroup.procs")]


def test_v1_when_v2_has_no_memory_controller_here(tmp_path: Path) -> None:
    """As on this project's machines: a hybrid layout whose cgroup2 mount holds no memory controller."""
    mounts = v2_tree(tmp_path, delegated=False) + v1_tree(tmp_path)
    (tmp_path / "unified" / "user.slice" / "cgroup.controllers").write_text("hugetlb\n")
    support = find_cgroups(mounts, "0::/user.slice\n4:memory:/job\n8:pids:/\n")
    assert support is not None and support.version == "cgroup-v1"
    assert support.memory_parent == tmp_path / "memory" / "job" and support.pids_parent == tmp_path / "pids"
    groups = make_run_groups(support, memory_mb=128, max_processes=8)
    memory, pids = groups.dirs
    assert (memory / "memory.limit_in_bytes").read_text() == str(128 * 1024 * 1024)
    assert (pids / "pids.max").read_text() == "8"
    for name in ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes"):
        (memory / name).unlink()
    (pids / "pids.max").unlink()
    groups.close(wait_s=0.0)
    assert not memory.exists() and not pids.exists()


def test_no_writable_hierarchy_means_none(tmp_path: Path) -> None:
    assert find_cgroups("", "0::/\n") is None
    mounts = f"35 31 0:32 / {tmp_path}/missing rw - cgroup cgroup rw,memory\n"
    assert find_cgroups(mounts, "4:memory:/job\n") is None


def test_groups_of_dead_evaluators_are_removed(tmp_path: Path) -> None:
    support = find_cgroups(v1_tree(tmp_path), "4:memory:/job\n8:pids:/\n")
    assert support is not None
    dead = support.memory_parent / "archon-sandbox-999999999-0"
    alive = support.memory_parent / f"archon-sandbox-{Path('/proc/self').resolve().name}-0"
    dead.mkdir()
    alive.mkdir()
    remove_stale(support)
    assert not dead.exists() and alive.exists()
