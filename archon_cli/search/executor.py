"""Where stage-2 trials run (search/loop.py dispatches them, up to ``--workers N`` at once).

- ``local`` (the default): trials are tasks of the driver's own event loop, through the driver's
  gateway: trials mostly wait on HTTP, so one process serves many, with one cache, one accountant
  and shared in-flight samples, and nothing to start.
- ``ray`` (``--executor ray``, or ``--ray-address`` / a cluster): trials are Ray tasks, on this
  machine or a cluster. A worker evaluates one trial into a scratch folder of its own, through a
  gateway of its own (llm/factory.py, from the command's gateway settings: same cache, the SQLite
  file on one machine or Redis with ``--cache-url``; same router file), and returns the run
  folder's files and what it spent. It writes nothing of the search folder: the driver is the
  single writer, so a worker that dies loses nothing finished, and its trial is run again. Its
  accountant holds the grant the loop reserved for it (search/loop.py) as hard limits.

Ray is an optional extra: it is imported only by the ``ray`` executor.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from archon_cli.benchmarks.base import Benchmark, Question
from archon_cli.config.architecture import Architecture
from archon_cli.errors import ArchonError, UserError
from archon_cli.evaluation.judge import GatewayJudge
from archon_cli.evaluation.run_folder import ARCHITECTURE, QUESTIONS, RUN_INFO, SUMMARY, TRACES
from archon_cli.llm.accountant import Budget, CallStats
from archon_cli.llm.factory import GatewaySettings, open_gateway
from archon_cli.search.evaluator import Evaluator

RAY_INSTALL_HINT = "pip install ray (archon's optional 'ray' extra)"
# The files of a trial's run folder, returned by the worker and written by the driver.
RUN_FILES = (ARCHITECTURE, RUN_INFO, QUESTIONS, TRACES, SUMMARY)
# A trial mostly waits on HTTP: a Ray task asks for this share of a CPU, so a 2-CPU machine runs many.
TASK_CPUS = 0.1


@dataclass(frozen=True)
class TrialJob:
    """One trial for a worker: the architecture, the questions, and the grant it may spend."""

    arch_id: str
    architecture: Architecture
    benchmark: Benchmark
    questions: list[Question]
    seed: int
    grant: Budget
    extra: dict[str, Any] = field(default_factory=dict)
    judge_model: str | None = None
    judge_max_tokens: int | None = None
    concurrency: int = 8
    # questions.jsonl of an earlier attempt at this trial: its finished questions are not run again.
    prior_records: bytes = b""


@dataclass
class TrialReturn:
    """What a worker hands back: the run folder's files, its summary, what it spent."""

    files: dict[str, bytes]
    summary: dict[str, Any]
    spent: CallStats
    budget_stopped: bool = False
    budget_message: str = ""
    error: ArchonError | None = None  # a one-line error of the trial (a weak judge, a bad route)
    worker: str = ""
    warnings: list[str] = field(default_factory=list)  # one line each (the cache went away)


class WorkerLost(Exception):
    """The process running a trial died (killed, out of memory, node lost): it may have spent its
    whole grant, and returned nothing."""


async def run_trial(settings: GatewaySettings, job: TrialJob, backend: Any = None) -> TrialReturn:
    """Evaluate one trial into a scratch folder and return its files (a Ray worker's side)."""
    warnings: list[str] = []
    try:
        gateway = open_gateway(settings, backend, warnings.append, budget=job.grant)
    except UserError as exc:
        # The cache went away mid-search (a Redis server stopped): the trial goes on without it, as
        # the driver's own gateway does when its cache fails; losing a cache costs only calls.
        warnings.append(f"{exc}; this worker goes on without the cache")
        uncached = settings.model_copy(update={"cache_dir": None, "cache_url": None})
        gateway = open_gateway(uncached, backend, warnings.append, budget=job.grant)
    try:
        judge = None
        if job.judge_model:
            judge = GatewayJudge(gateway, job.judge_model, max_tokens=job.judge_max_tokens or 256)
        with tempfile.TemporaryDirectory(prefix="archon-trial-") as scratch:
            evaluator = Evaluator(job.benchmark, gateway, judge, Path(scratch), job.seed, job.concurrency)
            run_dir = Path(scratch) / job.arch_id
            if job.prior_records:
                run_dir.mkdir()
                (run_dir / QUESTIONS).write_bytes(job.prior_records)
            try:
                outcome = await evaluator.outcome(job.architecture, job.questions, run_dir, "dev", job.extra)
            except ArchonError as exc:
                return TrialReturn({}, {}, gateway.stats.copy(), error=exc, worker=_where(), warnings=warnings)
            files = {name: (run_dir / name).read_bytes() for name in RUN_FILES if (run_dir / name).is_file()}
        return TrialReturn(
            files,
            outcome.summary,
            gateway.stats.copy(),
            outcome.budget_stopped,
            outcome.budget_message,
            worker=_where(),
            warnings=warnings,
        )
    finally:
        if gateway.cache is not None:
            gateway.cache.close()


def _where() -> str:
    return f"{os.uname().nodename}:{os.getpid()}"


_LOOP: asyncio.AbstractEventLoop | None = None


def run_trial_sync(settings: GatewaySettings, backend: Any, job: TrialJob) -> TrialReturn:
    """``run_trial`` on the worker process's one event loop (LiteLLM keeps clients bound to a loop,
    so a worker that runs many trials keeps one loop for them all)."""
    global _LOOP
    if _LOOP is None or _LOOP.is_closed():
        _LOOP = asyncio.new_event_loop()
    return _LOOP.run_until_complete(run_trial(settings, job, backend))


def warm_worker() -> str:
    """Import what a trial needs (LiteLLM takes seconds), so the first trial does not wait for it."""
    from archon_cli.llm.litellm_backend import load_litellm

    load_litellm()
    return _where()


class TrialExecutor(Protocol):
    name: str
    workers: int
    # True: a trial runs in another process, under a grant of its own, and returns its files;
    # False: it runs through the driver's gateway, straight into its run folder.
    granted: bool

    async def ready(self) -> None: ...

    async def run(self, job: TrialJob, run_dir: Path) -> TrialReturn:
        """Run one trial (``WorkerLost`` when its worker died)."""
        ...

    def close(self) -> None: ...


class LocalExecutor:
    """Trials as tasks of the driver's own event loop, through its gateway, into their run folders."""

    name = "local"
    granted = False

    def __init__(self, evaluator: Evaluator, workers: int = 1) -> None:
        self.evaluator = evaluator
        self.workers = workers

    async def ready(self) -> None:
        pass

    async def run(self, job: TrialJob, run_dir: Path) -> TrialReturn:
        outcome = await self.evaluator.outcome(job.architecture, job.questions, run_dir, "dev", job.extra)
        return TrialReturn({}, outcome.summary, CallStats(), outcome.budget_stopped, outcome.budget_message)

    def close(self) -> None:
        pass


# Warm-up tasks that may lose their worker (and be started again) before the search gives up.
MAX_LOST_WARMUPS = 3


class RayExecutor:
    """Trials as Ray tasks. Without an address (and without RAY_ADDRESS) Ray starts on this machine."""

    name = "ray"
    granted = True

    def __init__(self, settings: GatewaySettings, workers: int, address: str | None = None, backend: Any = None) -> None:
        joining = address or os.environ.get("RAY_ADDRESS")
        if joining:
            _check_reachable(joining)  # Ray itself waits minutes on an address where nothing answers
            _token_auth_for_join()  # before Ray's import: it reads its configuration then
        try:
            import ray
        except ImportError:
            raise UserError(
                f"--executor ray runs trials on Ray, which is not installed: {RAY_INSTALL_HINT}"
            ) from None
        self._ray = ray
        self.workers = workers
        self._started_here = False
        if not ray.is_initialized():
            os.environ.setdefault("RAY_DEDUP_LOGS", "0")
            try:
                with _quiet_stderr() if joining else contextlib.nullcontext():
                    ray.init(
                        address=address,
                        include_dashboard=False,
                        log_to_driver=False,
                        logging_level=logging.ERROR,
                        configure_logging=True,
                    )
            except (ConnectionError, RuntimeError, ValueError, ray.exceptions.AuthenticationError) as exc:
                where = address or os.environ.get("RAY_ADDRESS") or "a local Ray instance"
                message = _first_line(exc)
                if isinstance(exc, ray.exceptions.AuthenticationError) or "token" in message.lower():
                    message += (
                        " (the cluster uses token authentication: put its token in RAY_AUTH_TOKEN or "
                        "~/.ray/auth_token, see `ray get-auth-token`)"
                    )
                raise UserError(f"cannot start or join Ray at {where}: {message}") from None
            self._started_here = True
        self._remote = ray.remote(num_cpus=TASK_CPUS, max_retries=0)(run_trial_sync)
        self._settings = ray.put(settings.gateway_part())
        self._backend = ray.put(backend)
        # Start the workers now (each imports LiteLLM, seconds): they warm up while stage 1 runs.
        self._warm = ray.remote(num_cpus=TASK_CPUS, max_retries=0)(warm_worker)
        self._warming = [self._warm.remote() for _ in range(workers)]

    async def ready(self) -> None:
        """Wait for the warm-up tasks: the first trials then run on workers that have LiteLLM
        imported (Ray gives a task an idle worker before it starts a new one). A warm-up whose
        worker died (killed, out of memory) is started again, as a lost trial is."""
        ray = self._ray
        lost_kinds = (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError, ray.exceptions.ObjectLostError)
        lost = 0
        while self._warming:
            warming, self._warming = self._warming, []
            results = await asyncio.gather(*warming, return_exceptions=True)
            for result in results:
                if not isinstance(result, BaseException):
                    continue
                if isinstance(result, lost_kinds) and lost < MAX_LOST_WARMUPS:
                    lost += 1
                    self._warming.append(self._warm.remote())
                    continue
                raise UserError(f"the Ray workers could not start archon: {_first_line(result)}") from None

    async def run(self, job: TrialJob, run_dir: Path) -> TrialReturn:
        ray = self._ray
        handle = self._remote.remote(self._settings, self._backend, job)
        try:
            returned: TrialReturn = await handle
        except ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, ArchonError):
                raise cause from None
            raise
        except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError, ray.exceptions.ObjectLostError) as exc:
            raise WorkerLost(_first_line(exc)) from None
        except BaseException:
            with contextlib.suppress(Exception):  # finished already, or its worker is gone
                ray.cancel(handle, force=True)
            raise
        return returned

    def close(self) -> None:
        if self._started_here:
            self._ray.shutdown()


def _first_line(exc: BaseException) -> str:
    """An exception's first line, for a one-line error (Ray's messages run to many lines)."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Ray's core writes each failed attempt to join a cluster straight to file descriptor 2 (a
    line a second for twenty seconds); while ``ray.init`` joins, that goes to a scratch file, and the
    one-line error says what went wrong. (Joining starts no local process that would inherit it.)"""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """A one-line error when nothing answers at a ``HOST:PORT`` (or ``ray://HOST:PORT``) address;
    names Ray resolves itself (``auto``, ``local``) pass."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        return
    try:
        with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=timeout):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UserError(f"cannot join Ray at {address}: nothing answers there ({reason})") from None


def _token_auth_for_join() -> None:
    """A cluster started with ``ray start`` authenticates with a token when one exists where Ray
    keeps it (``RAY_AUTH_TOKEN``, ``RAY_AUTH_TOKEN_PATH``, ``~/.ray/auth_token``): ``ray start``
    turns token mode on for itself when it finds one, but ``ray.init`` joining the cluster does not,
    and is refused. As ``ray start`` does: with ``RAY_AUTH_MODE`` unset and a token at hand, on."""
    if os.environ.get("RAY_AUTH_MODE") is not None:
        return  # the user's choice
    token_path = os.environ.get("RAY_AUTH_TOKEN_PATH") or str(Path.home() / ".ray" / "auth_token")
    if os.environ.get("RAY_AUTH_TOKEN") or Path(token_path).is_file():
        os.environ["RAY_AUTH_MODE"] = "token"


EXECUTORS = ("local", "ray")


def check_executor(kind: str | None, workers: int, address: str | None) -> None:
    """The executor options, before any call: one-line errors."""
    if workers < 1:
        raise UserError(f"--workers {workers}: must be at least 1")
    if kind is not None and kind not in EXECUTORS:
        raise UserError(f"--executor {kind}: expected one of: {', '.join(EXECUTORS)}")
    if address and kind == "local":
        raise UserError("--ray-address runs the trials on Ray: give --executor ray, or leave --executor out")


def make_executor(
    kind: str | None, workers: int, settings: GatewaySettings, address: str | None = None, backend: Any = None
) -> RayExecutor:
    """The Ray executor (``--executor ray``, or an address to join); the local one is the
    driver's own (it runs through the driver's gateway)."""
    check_executor(kind, workers, address)
    return RayExecutor(settings, workers, address, backend)
