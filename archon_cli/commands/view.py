"""What `archon view` does: write the HTML report of run folders, a search folder or a comparison,
print its path, and with --serve serve it on 127.0.0.1 until interrupted."""

from __future__ import annotations

import functools
import os
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

from rich.console import Console

from archon_cli.errors import EXIT_OK, ArchonError, UserError
from archon_cli.evaluation.run_folder import RunResult
from archon_cli.report.compare import Comparison
from archon_cli.report.view import write_compare_report, write_view


def report_last(
    what: list[Path] | list[RunResult], console: Console, out: Path | None = None, comparison: Comparison | None = None
) -> Path | None:
    """After eval, search or compare: write the report and say where, as the last line. A report
    that cannot be written is a warning: the results it would show are saved already."""
    try:
        if what and isinstance(what[0], RunResult):
            assert out is not None
            report = write_compare_report([r for r in what if isinstance(r, RunResult)], out, comparison)
        else:
            report = write_view([p for p in what if isinstance(p, Path)], out)
    except (ArchonError, OSError, ValueError) as exc:
        console.print(f"[yellow]warning:[/] no report written: {exc}", highlight=False, soft_wrap=True)
        return None
    console.print(f"report: {report}", highlight=False, soft_wrap=True)
    return report


def run_view(
    paths: list[Path], out: Path | None, serve: bool, port: int, console: Console, allow_mixed: bool = False
) -> int:
    report = write_view(paths, out, allow_mixed)
    print(report)
    if serve:
        # Served from the folder holding the report and every folder it links to (its run reports).
        root = Path(os.path.commonpath([report.resolve().parent, *(p.resolve() for p in paths)]))
        if root.is_file():
            root = root.parent
        handler = functools.partial(_QuietHandler, directory=str(root))
        try:
            server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        except OSError as exc:
            raise UserError(f"--port {port}: cannot listen on 127.0.0.1 ({exc.strerror or exc})") from None
        url = f"http://127.0.0.1:{server.server_address[1]}/{quote(report.resolve().relative_to(root).as_posix())}"
        console.print(f"serving {url} (Ctrl-C stops)", highlight=False, soft_wrap=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
    return EXIT_OK


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass
