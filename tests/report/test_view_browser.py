"""The HTML reports of real runs (loopback servers), opened in Debian's chromium through Playwright:
no console errors, filters change the rows, the 4-layer drill-down shows every layer's candidates
and decisions, and each report's screenshot is not blank. One browser for the whole module."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from archon_cli.testing import FaultPlan, FaultServer
from tests.conftest import ROOT, assert_user_error, run_cli
from tests.engine.test_trace import four_layer

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
LIMIT = 12


def one_call(folder: Path, api_base: str) -> Path:
    path = folder / "one.yaml"
    path.write_text(
        f"name: one\nlayers:\n  - - {{type: generator, model: openai/fake-model, api_base: '{api_base}', "
        "temperature: 0, max_tokens: 16}\n",
        encoding="utf-8",
    )
    return path


def last_report(stderr: str) -> Path:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    assert lines[-1].startswith("report: "), stderr
    return Path(lines[-1].removeprefix("report: ").strip())


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Real runs written by the CLI: a 4-layer run and a one-call run (on servers of other seeds, so
    some answers differ), their comparison, and a small search; each command's report."""
    folder = tmp_path_factory.mktemp("view")
    results = str(folder / "results")
    with FaultServer(FaultPlan(wrong_rate=0.3, seed=3)) as a, FaultServer(FaultPlan(wrong_rate=0.3, seed=8)) as b:
        common = ("-b", "tiny-arith", "--limit", str(LIMIT), "--results-dir", results, "--cache-dir", str(folder / "cache"))
        four = run_cli("eval", str(four_layer(folder, a.api_base)), *common)
        assert four.code == 0, four.stderr
        one = run_cli("eval", str(one_call(folder, b.api_base)), *common)
        assert one.code == 0, one.stderr
        run_four, run_one = last_report(four.stderr).parent, last_report(one.stderr).parent
        compared = run_cli("compare", str(run_four), str(run_one), "--results-dir", results)
        assert compared.code == 0, compared.stderr
        pool = folder / "pool.yaml"
        pool.write_text(f"models:\n  - model: openai/fake-model\n    api_base: {a.api_base}\n", encoding="utf-8")
        search = run_cli(
            *("search", "-b", "tiny-arith", "--budget", "4", "--pool", str(pool), "--algorithm", "random"),
            *("--trials", "3", "--limit", "8", "--test-limit", "6", "--final-k", "1"),
            *("--results-dir", results, "--cache-dir", str(folder / "cache")),
        )
        assert search.code == 0, search.stderr
    yield {
        "folder": folder,
        "run": last_report(four.stderr),
        "one": last_report(one.stderr),
        "compare": last_report(compared.stderr),
        "search": last_report(search.stderr),
    }


def test_eval_search_and_compare_print_the_report_path_last(reports: dict[str, Any]) -> None:
    for kind in ("run", "one", "compare", "search"):
        path = reports[kind]
        assert path.is_file() and path.name == "report.html", kind
        html = path.read_text(encoding="utf-8")
        # Self-contained: nothing is fetched (no external script, style, image or font).
        assert not re.search(r"""<(script|link|img|iframe)[^>]+(src|href)=["']?https?:""", html), kind
        assert "default-src 'none'" in html
    run = reports["run"].parent
    again = run_cli("eval", str(reports["folder"] / "four.yaml"), "-b", "tiny-arith", "--no-report", "--limit", "1",
                    "--results-dir", str(reports["folder"] / "other"), "--cache-dir", str(reports["folder"] / "cache"))
    assert "report:" not in again.stderr and not list((reports["folder"] / "other").glob("*/report.html"))
    assert (run / "traces.jsonl").is_file()


def test_view_errors_are_one_line(tmp_path: Path) -> None:
    assert_user_error(run_cli("view", str(tmp_path / "missing")), "no such file or folder")
    assert_user_error(run_cli("view", str(tmp_path)), "not a result folder")


def test_view_serves_the_report_on_loopback(reports: dict[str, Any]) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "archon_cli", "view", str(reports["run"].parent), "--serve", "--port", "0",
         "--out", str(reports["folder"] / "served.html")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        line = ""
        deadline = time.monotonic() + 60
        while "serving" not in line and time.monotonic() < deadline:
            line = proc.stderr.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/\S+", line)
        assert url, line
        with urllib.request.urlopen(url.group(0), timeout=10) as response:
            assert b'id="data"' in response.read()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# -- in the browser -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (`make install` installs it: scripts/ensure_chromium.sh)")
    playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (`make install`)")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


class Opened:
    def __init__(self, browser: Any, path: Path) -> None:
        self.errors: list[str] = []
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: None if r.url.startswith(("file:", "data:")) else self.errors.append(r.url))
        self.page.goto(path.resolve().as_uri())

    def rows(self) -> list[str]:
        return list(self.page.eval_on_selector_all("#rows tbody tr", "rs => rs.map(r => r.dataset.id)"))


def not_blank(png: bytes) -> None:
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("L")
    low, high = image.getextrema()
    colours = len(image.getcolors(maxcolors=1 << 16) or [])
    assert image.size[0] >= 800 and high - low > 100 and colours > 20, (image.size, low, high, colours)


@pytest.mark.parametrize("kind", ["run", "compare", "search"])
def test_each_report_opens_without_errors_and_is_not_blank(browser: Any, reports: dict[str, Any], kind: str) -> None:
    opened = Opened(browser, reports[kind])
    if kind != "search":
        opened.page.wait_for_selector("body[data-ready]", timeout=10_000)
        assert opened.rows(), "the question table has rows"
    not_blank(opened.page.screenshot(full_page=True))
    assert opened.errors == []
    opened.page.close()


def test_filters_change_the_rows_shown(browser: Any, reports: dict[str, Any]) -> None:
    records = [json.loads(line) for line in (reports["run"].parent / "questions.jsonl").read_text().splitlines()]
    correct = {r["id"] for r in records if r["score"] == 1}
    wrong = {r["id"] for r in records if r["score"] == 0}
    assert correct and wrong, "the seeded server answers some questions wrongly"
    opened = Opened(browser, reports["run"])
    page = opened.page
    page.wait_for_selector("body[data-ready]")
    assert len(opened.rows()) == LIMIT
    page.click("button[data-filter=correct]")
    assert set(opened.rows()) == correct
    page.click("button[data-filter=wrong]")
    assert set(opened.rows()) == wrong
    page.click("button[data-filter=error]")
    assert opened.rows() == []
    page.click("button[data-filter=all]")
    one = sorted(correct)[0]
    page.fill("#search", one)
    assert opened.rows() == [one]
    assert opened.errors == []
    page.close()


def test_the_four_layer_drill_down_shows_each_layers_candidates_and_decisions(
    browser: Any, reports: dict[str, Any]
) -> None:
    trace = json.loads((reports["run"].parent / "traces.jsonl").read_text().splitlines()[0])
    opened = Opened(browser, reports["run"])
    page = opened.page
    page.wait_for_selector("body[data-ready]")
    page.click(f"#rows tbody tr[data-id='{trace['id']}']")
    layers = page.locator("#detail .layer")
    assert layers.count() == 4
    types = [layers.nth(i).locator(".component").get_attribute("data-type") for i in range(4)]
    assert types == ["generator", "critic", "ranker", "fuser"]
    texts, cands = trace["texts"], trace["candidates"]
    for i, layer in enumerate(trace["turns"][0]["layers"]):
        component = layer["components"][0]
        box = layers.nth(i).locator(".component")
        shown_in = box.locator(".inputs .cand .ctext").all_inner_texts()
        shown_out = box.locator(".outputs .cand .ctext").all_inner_texts()
        assert shown_in == [texts[cands[c][0]] for c in component["inputs"]]
        assert shown_out == [texts[cands[c][0]] for c in component["outputs"]]
    critic, ranker = layers.nth(1), layers.nth(2)
    assert critic.locator(".outputs .crit").count() == 3  # each candidate passed on with its critique
    assert "a critique for every candidate" in critic.locator(".decision").inner_text()
    order = trace["turns"][0]["layers"][2]["components"][0]["decision"]["order"]
    assert " > ".join(f"[{k + 1}]" for k in order) in ranker.locator(".decision").inner_text()
    answer = page.locator("#detail .col > pre").first.inner_text()
    assert answer == texts[trace["turns"][0]["answer"]]
    assert opened.errors == []
    page.close()


def test_the_comparison_lists_the_questions_where_the_runs_differ_with_both_traces(
    browser: Any, reports: dict[str, Any]
) -> None:
    def scores(run: Path) -> dict[str, float]:
        return {r["id"]: r["score"] for r in map(json.loads, (run / "questions.jsonl").read_text().splitlines())}

    a, b = scores(reports["run"].parent), scores(reports["one"].parent)
    differ = {q for q in a if a[q] != b[q]}
    assert differ, "servers of other seeds get other questions wrong"
    opened = Opened(browser, reports["compare"])
    page = opened.page
    page.wait_for_selector("body[data-ready]")
    assert len(opened.rows()) == LIMIT
    page.click("button[data-filter=different]")
    assert set(opened.rows()) == differ
    page.click("#rows tbody tr")
    columns = page.locator("#detail .cols > .col")
    assert columns.count() == 2
    assert columns.nth(0).locator(".layer").count() + columns.nth(1).locator(".layer").count() == 5  # 4 + 1
    assert "beats" in page.inner_text("#summary") or "no significant difference" in page.inner_text("#summary")
    assert opened.errors == []
    page.close()


def test_each_trial_of_the_search_links_to_its_run_report(browser: Any, reports: dict[str, Any]) -> None:
    opened = Opened(browser, reports["search"])
    page = opened.page
    links = page.eval_on_selector_all("#leaderboard a", "as => as.map(a => a.href)")
    assert len(links) == 3
    assert page.locator("#charts svg").count() == 2 and "Against the baseline" in page.inner_text("#baseline")
    page.click("#leaderboard a >> nth=0")
    page.wait_for_selector("body[data-ready]")
    assert len(opened.rows()) > 0 and page.url.endswith("report.html")
    assert opened.errors == []
    page.close()


def test_a_large_report_gzips_its_data_and_opens(
    browser: Any, reports: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from archon_cli.evaluation.run_folder import load_result
    from archon_cli.report import view

    monkeypatch.setattr(view, "COMPRESS_FROM", 0)  # as a report past a megabyte of data is
    (run,) = load_result(reports["run"].parent)
    report = view.write_run_report(run, tmp_path / "gzipped.html")
    assert 'data-encoding="gzip+base64"' in report.read_text(encoding="utf-8")
    opened = Opened(browser, report)
    opened.page.wait_for_selector("body[data-ready]", timeout=10_000)
    assert sorted(opened.rows()) == sorted(run.records)
    assert opened.errors == []
    opened.page.close()


@pytest.mark.local_model
def test_an_embedded_model_run_report_shows_its_four_layers(
    browser: Any, tmp_path: Path, local_model_available: None
) -> None:
    arch = tmp_path / "local-four.yaml"
    llm = "model: local/smollm2-135m, max_tokens: 12"
    arch.write_text(
        "name: local-four\nlayers:\n"
        f"  - - {{type: generator, {llm}, samples: 2}}\n  - - {{type: critic, {llm}}}\n"
        f"  - - {{type: ranker, {llm}}}\n  - - {{type: fuser, {llm}}}\n",
        encoding="utf-8",
    )
    result = run_cli(
        *("eval", str(arch), "-b", "tiny-arith", "--limit", "2", "--results-dir", str(tmp_path / "results")),
        *("--cache-dir", str(tmp_path / "cache")),
    )
    assert result.code == 0, result.stderr
    opened = Opened(browser, last_report(result.stderr))
    opened.page.wait_for_selector("body[data-ready]")
    assert len(opened.rows()) == 2
    opened.page.click("#rows tbody tr >> nth=0")
    layers = opened.page.locator("#detail .layer")
    assert layers.count() == 4 and layers.nth(3).locator(".outputs .cand").count() == 1
    assert layers.nth(2).locator(".decision").count() == 1  # the ranker's order or its parse failure
    assert opened.errors == []
    opened.page.close()
