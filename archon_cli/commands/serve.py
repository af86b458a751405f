"""What ``archon serve`` does: load and check every architecture (budget, routes, keys) before it
listens, print the URL, serve until SIGTERM or Ctrl-C, then print the totals."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from archon_cli.commands.common import load_checked
from archon_cli.commands.options import EngineOptions
from archon_cli.commands.settings import EngineSettings, engine_settings, open_gateway, secret_from_env
from archon_cli.engine.runner import ArchitectureRunner
from archon_cli.errors import EXIT_OK, UserError
from archon_cli.llm.gateway import LLMGateway
from archon_cli.server import ArchitectureService, ServedArchitecture, ServeOptions

# A serve key shorter than this is guessable by anyone who can reach the port.
MIN_SERVE_KEY = 16


@dataclass(frozen=True)
class ServeCommand:
    """What `archon serve` was given (``engine.concurrency``: requests running at once)."""

    architectures: list[str] = field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 8000
    api_key_env: str | None = None
    request_log: Path = Path("results/serve/requests.jsonl")
    grace: float = 30.0
    engine: EngineOptions = field(default_factory=lambda: EngineOptions(concurrency=32))


def serve_options(command: ServeCommand) -> ServeOptions:
    """The service's options; the key is read from the variable --api-key-env names (never printed)."""
    variable = command.api_key_env
    key = secret_from_env(variable, "--api-key-env") if variable is not None else None
    if key is not None and len(key) < MIN_SERVE_KEY:
        raise UserError(
            f"--api-key-env {variable}: the key has {len(key)} characters; use at least {MIN_SERVE_KEY} "
            "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(24))')"
        )
    return ServeOptions(
        api_key=key, concurrency=command.engine.concurrency, grace=command.grace, request_log=command.request_log
    )


def parse_spec(spec: str) -> tuple[str | None, Path]:
    """``PATH`` (served under the architecture's name) or ``NAME=PATH``."""
    path = Path(spec)
    if "=" not in spec or path.exists():
        return None, path
    name, _, rest = spec.partition("=")
    if not name.strip() or not rest.strip():
        raise UserError(f"{spec!r}: expected an architecture file, or NAME=PATH")
    return name.strip(), Path(rest.strip())


def load_served(
    specs: list[str], settings: EngineSettings, console: Console
) -> tuple[list[ServedArchitecture], LLMGateway]:
    """Every architecture loaded, checked against the per-request budget, its routes and keys
    resolved, all on one gateway: any problem stops here, before the server listens."""
    gateway = open_gateway(settings)
    served = []
    for spec in specs:
        name, path = parse_spec(spec)
        architecture = load_checked(path, settings, console)
        runner = ArchitectureRunner(architecture, gateway, settings.budget.calls_per_query)
        runner.check_routes()
        served.append(ServedArchitecture(name or architecture.name, runner))
    return served, gateway


def run_serve(command: ServeCommand, console: Console) -> int:
    from archon_cli.server.host import listen, serve, url_of

    settings = engine_settings(command.engine)
    options = serve_options(command)
    served_list, gateway = load_served(command.architectures, settings, console)
    service = ArchitectureService(
        served_list,
        gateway,
        options,
        notify=lambda message: console.print(f"[yellow]{message}[/]", highlight=False, soft_wrap=True),
    )
    sock = listen(command.host, command.port)
    url = url_of(sock)
    print(url, flush=True)  # the first line of stdout, for scripts that start the server with --port 0
    for served in service.architectures.values():
        console.print(f"serving [bold]{served.name}[/] ({served.calls} calls per request) at {url}/v1", highlight=False)
    budget = settings.budget.describe()
    console.print(
        f"[dim]budget: {budget}; key: {'required' if options.api_key else 'none'}; "
        f"log: {options.request_log or 'off'}; SIGTERM or Ctrl-C stops (grace {options.grace:g}s)[/]",
        highlight=False,
        soft_wrap=True,
    )
    serve(service, sock)
    s = service.summary()
    lost = f"; {s['log_lines_lost']} request log lines lost" if s["log_lines_lost"] else ""
    console.print(
        f"stopped: {s['requests']} requests ({s['ok']} answered, {s['failed']} not); "
        f"{s['calls']} calls, {s['cache_hits']} cache hits, {s['tokens']} tokens, ${s['cost']:.4f}{lost}",
        highlight=False,
        soft_wrap=True,
    )
    return EXIT_OK
