"""Write the pins file from a virtual environment: every installed distribution at its exact version.

Usage: python scripts/write_constraints.py VENV OUTPUT  (run by `make lock`).
The project itself (an editable install) is left out; pip, setuptools and wheel are kept, so the
venv's own tools are pinned too.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

HEADER = """\
# Exact versions of every package `make install` installs (pip -c). Written by `make lock`:
# do not edit by hand. Python {python}, {machine}.
"""


def main() -> int:
    venv, output = Path(sys.argv[1]), Path(sys.argv[2])
    frozen = subprocess.run(
        [str(venv / "bin" / "pip"), "freeze", "--all", "--exclude-editable", "--disable-pip-version-check"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    frozen = [line.strip() for line in frozen if line.strip() and not line.startswith("#")]
    frozen = [line for line in frozen if not re.match(r"archon[-_]cli\b", line, re.I)]  # the project itself
    pins = sorted((line for line in frozen if "==" in line), key=str.lower)
    odd = [line for line in frozen if "==" not in line]
    if odd:
        print(f"write_constraints: not pinned by version (installed from a path or URL): {odd}", file=sys.stderr)
        return 1
    version = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import platform; print(platform.python_version(), platform.machine())"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(HEADER.format(python=version[0], machine=version[1]) + "\n".join(pins) + "\n", encoding="utf-8")
    print(f"{output}: {len(pins)} pins")
    return 0


if __name__ == "__main__":
    sys.exit(main())
