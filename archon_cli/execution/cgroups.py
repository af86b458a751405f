"""A memory and process cap for a sandbox run's whole process tree, from a control group.

``RLIMIT_AS`` caps one process; a program that forks gets that much again per child. A control
group caps the tree: every process the run starts is charged to it, and the kernel kills (OOM)
inside it when the tree together passes the cap. This module finds a cgroup hierarchy the
evaluator may write to, makes one group per run, and removes it afterwards:

  - cgroup v2 (one unified hierarchy), where the evaluator's own group delegates ``memory`` and
    ``pids`` to its children: ``memory.max``, ``memory.swap.max`` = 0, ``pids.max``;
  - cgroup v1 (a hierarchy per controller, as on older or hybrid systems): ``memory.limit_in_bytes``
    (and ``memory.memsw.limit_in_bytes`` where swap is accounted) and ``pids.max``.

Where neither is writable (usual for a normal user) ``find_cgroups`` returns None and the sandbox
falls back to per-process limits. The sandbox's child program joins the groups (writes its pid to
each ``cgroup.procs``) before it starts anything else.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

CgroupVersion = Literal["cgroup-v1", "cgroup-v2"]
_counter = itertools.count()


@dataclass(frozen=True)
class Mount:
    point: Path
    root: str  # the part of the hierarchy mounted there ("/" unless a cgroup namespace hides the rest)
    fstype: str
    options: frozenset[str]


def parse_mounts(mountinfo: str) -> list[Mount]:
    """The cgroup mounts in ``/proc/self/mountinfo`` text."""
    mounts = []
    for line in mountinfo.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3 or tail[0] not in ("cgroup", "cgroup2"):
            continue
        mounts.append(Mount(Path(fields[4]), fields[3], tail[0], frozenset(tail[2].split(","))))
    return mounts


def parse_own_groups(proc_cgroup: str) -> dict[str, str]:
    """``/proc/self/cgroup`` as {controller: path}; the v2 group is under the key ""."""
    groups: dict[str, str] = {}
    for line in proc_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        for controller in parts[1].split(",") if parts[1] else [""]:
            groups[controller] = parts[2]
    return groups


def _inside(mount: Mount, path: str) -> Path:
    """The directory of group ``path`` under ``mount``."""
    relative = path
    if mount.root != "/" and (path == mount.root or path.startswith(mount.root + "/")):
        relative = path[len(mount.root) :]
    return mount.point / relative.lstrip("/")


@dataclass(frozen=True)
class CgroupSupport:
    """Where a run's groups are made: one parent directory per hierarchy (v2: one for both)."""

    version: CgroupVersion
    memory_parent: Path
    pids_parent: Path | None


def find_cgroups(mountinfo: str, proc_cgroup: str) -> CgroupSupport | None:
    """The writable hierarchy to cap runs with, v2 first; None when there is none."""
    mounts = parse_mounts(mountinfo)
    own = parse_own_groups(proc_cgroup)
    for mount in mounts:
        if mount.fstype == "cgroup2" and "" in own:
            parent = _inside(mount, own[""])
            if _v2_delegates(parent) and _can_make_child(parent):
                return CgroupSupport("cgroup-v2", parent, None)
    memory = next((m for m in mounts if m.fstype == "cgroup" and "memory" in m.options), None)
    if memory is None or "memory" not in own:
        return None
    memory_parent = _inside(memory, own["memory"])
    if not _can_make_child(memory_parent):
        return None
    pids = next((m for m in mounts if m.fstype == "cgroup" and "pids" in m.options), None)
    pids_parent = _inside(pids, own["pids"]) if pids is not None and "pids" in own else None
    if pids_parent is not None and not _can_make_child(pids_parent):
        pids_parent = None
    return CgroupSupport("cgroup-v1", memory_parent, pids_parent)


def _v2_delegates(parent: Path) -> bool:
    """Whether children of ``parent`` get the memory and pids controllers (enabling them if allowed)."""
    try:
        available = set((parent / "cgroup.controllers").read_text().split())
        enabled = set((parent / "cgroup.subtree_control").read_text().split())
    except OSError:
        return False
    if not {"memory", "pids"} <= available:
        return False
    missing = {"memory", "pids"} - enabled
    if missing:
        try:  # refused (EBUSY) while processes live in the parent itself, as the evaluator does
            (parent / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in sorted(missing)))
        except OSError:
            return False
    return True


def _can_make_child(parent: Path) -> bool:
    probe = parent / f"archon-probe-{os.getpid()}-{next(_counter)}"
    try:
        probe.mkdir()
    except OSError:
        return False
    with contextlib.suppress(OSError):
        probe.rmdir()
    return True


@dataclass
class RunGroups:
    """The groups of one run: the child program joins ``procs`` files; ``close`` removes them."""

    version: CgroupVersion
    dirs: list[Path]

    @property
    def procs(self) -> list[str]:
        return [str(d / "cgroup.procs") for d in self.dirs]

    def memory_exceeded(self) -> bool:
        """Whether the kernel killed a process of the run for passing the memory cap."""
        return self.oom_kills() > 0

    def oom_kills(self) -> int:
        """How many processes of the group the kernel killed for passing the memory cap."""
        memory = self.dirs[0]
        name = "memory.events" if self.version == "cgroup-v2" else "memory.oom_control"
        try:
            for line in (memory / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except (OSError, ValueError):
            pass
        return 0

    def close(self, wait_s: float = 2.0) -> None:
        """Remove the groups; a group is busy until its last process is gone, so retry briefly."""
        deadline = time.monotonic() + wait_s
        for directory in self.dirs:
            while True:
                try:
                    directory.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.02)


def remove_stale(support: CgroupSupport) -> None:
    """Remove the groups of evaluators that died without removing theirs (killed mid-run); a group
    with processes left in it cannot be removed and stays."""
    for parent in (support.memory_parent, support.pids_parent):
        if parent is None:
            continue
        try:
            entries = list(parent.glob("archon-sandbox-*"))
        except OSError:
            continue
        for entry in entries:
            pid = entry.name.split("-")[2]
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                with contextlib.suppress(OSError):
                    entry.rmdir()


def make_run_groups(support: CgroupSupport, memory_mb: int, max_processes: int) -> RunGroups:
    """Groups for one run, capped at ``memory_mb`` (no swap) and ``max_processes`` tasks. Raises
    OSError when they cannot be made."""
    name = f"archon-sandbox-{os.getpid()}-{next(_counter)}"
    limit = str(memory_mb * 1024 * 1024)
    memory = support.memory_parent / name
    memory.mkdir()
    groups = RunGroups(support.version, [memory])
    try:
        if support.version == "cgroup-v2":
            (memory / "memory.max").write_text(limit)
            with contextlib.suppress(FileNotFoundError):  # no swap accounting: nothing to limit
                (memory / "memory.swap.max").write_text("0")
            (memory / "pids.max").write_text(str(max_processes))
        else:
            (memory / "memory.limit_in_bytes").write_text(limit)
            with contextlib.suppress(FileNotFoundError, PermissionError):
                (memory / "memory.memsw.limit_in_bytes").write_text(limit)
            if support.pids_parent is not None:
                pids = support.pids_parent / name
                pids.mkdir()
                groups.dirs.append(pids)
                (pids / "pids.max").write_text(str(max_processes))
    except OSError:
        groups.close(wait_s=0.0)
        raise
    return groups
