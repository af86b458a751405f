"""The README's screenshots of the HTML report (docs/report-*.png), taken in chromium.

    python scripts/report_screenshots.py RUN_REPORT SEARCH_REPORT COMPARE_REPORT [--out docs]

The run's shot shows its first question's drill-down, the comparison's the "different" filter and
its first question side by side. Each PNG is reduced to a 64-colour palette to stay small."""

from __future__ import annotations

import argparse
import io
import shutil
from pathlib import Path

from PIL import Image
from playwright.sync_api import Page, sync_playwright

ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def save(png: bytes, path: Path) -> None:
    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=64)
    image.save(path, optimize=True)
    print(f"{path}: {path.stat().st_size // 1024} kB")


def drill_down(page: Page, different: bool) -> None:
    page.wait_for_selector("body[data-ready]")
    if different and page.locator("button[data-filter=different]").count():
        page.click("button[data-filter=different]")
    page.click("#rows tbody tr >> nth=0")
    page.evaluate("document.getElementById('detail').scrollIntoView()")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("search", type=Path)
    parser.add_argument("compare", type=Path)
    parser.add_argument("--out", type=Path, default=Path("docs"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("chromium is not installed (scripts/ensure_chromium.sh)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        for kind, report in (("run", args.run), ("search", args.search), ("compare", args.compare)):
            page = browser.new_page(viewport={"width": 1200, "height": 1100})
            page.goto(report.resolve().as_uri())
            if kind != "search":
                drill_down(page, different=kind == "compare")
            save(page.screenshot(), args.out / f"report-{kind}.png")
            page.close()
        browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
