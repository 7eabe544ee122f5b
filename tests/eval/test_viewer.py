"""The viewer in a real browser (Playwright driving Debian's Chromium), plus its safety properties."""

import asyncio
import json
import threading
import urllib.request
from pathlib import Path

import pytest

from eval.viewer.data import Store
from eval.viewer.server import make_server
from protocols.types import Problem
from synthesis.debate import DebateConfig, run_debate
from tests.fakes import ScriptedLLM

CHROMIUM = Path("/usr/bin/chromium")
INJECTION = "<script>window.pwned = 1</script><img src=x onerror=\"window.pwned = 2\">"


def _debate_run(directory: Path, critic_first: str, policy_first: str) -> Path:
    """A run of three problems made by the real debate driver (scripted models)."""
    directory.mkdir(parents=True)
    lines = []
    for i in range(3):
        problem = Problem(id=f"q{i}", question=f"What is {i} + {i}?", answer=str(2 * i))
        policy = ScriptedLLM(policy=[policy_first.format(i=i), f"1. So {i} + {i} = \\boxed{{{2 * i}}}"])
        critic = ScriptedLLM(critic=[critic_first, "ACTION: terminate"])
        record = asyncio.run(run_debate(problem, DebateConfig(max_turns=4), policy, critic))
        lines.append(record.to_json())
    (directory / "records.jsonl").write_text("\n".join(lines) + "\n")
    return directory


@pytest.fixture
def viewer(tmp_path):
    first = _debate_run(tmp_path / "iteration-1", "ACTION: backtrack to 0\nREASON: Wait, that sum is off.",
                        "1. {i} + {i} = 7 " + INJECTION)
    second = _debate_run(tmp_path / "iteration-2", "ACTION: continue\nREASON: fine", "1. Add the two numbers.")
    server = make_server(Store([first, second]), port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def test_api_filters_and_counts(viewer):
    everything = _get(f"{viewer}/api/problems")
    assert everything["total"] == 6 and everything["counts"]["run"] == {"0": 3, "1": 3}
    waits = _get(f"{viewer}/api/problems?q=wait")
    assert waits["total"] == 3 and {p["run"] for p in waits["problems"]} == {0}
    assert _get(f"{viewer}/api/problems?action=backtrack")["total"] == 3
    assert _get(f"{viewer}/api/problems?outcome=correct&run=1")["total"] == 3
    stats = _get(f"{viewer}/api/stats")
    assert stats[0]["problems"] == 3 and stats[0]["share_correct"] == 1.0 and stats[0]["stop_reasons"] == {"terminated": 3}


def test_pages_forbid_foreign_content(viewer):
    with urllib.request.urlopen(viewer, timeout=10) as response:
        assert response.headers["content-security-policy"].startswith("default-src 'self'")
        page = response.read().decode()
    assert "http://" not in page and "https://" not in page  # offline: nothing from a CDN


def test_refuses_a_non_loopback_host_without_an_explicit_flag():
    with pytest.raises(ValueError, match="pass --host explicitly"):
        make_server(Store([]), host="0.0.0.0", port=0)
    server = make_server(Store([]), host="0.0.0.0", port=0, allow_remote=True)  # the CLI's explicit --host
    server.server_close()


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed (scripts/install-browser.sh)")
def test_browser_filter_open_click_compare_and_no_script_injection(viewer, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    artifacts = Path(__file__).resolve().parents[2] / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        # bypass_csp: the page's own Content-Security-Policy would also stop injected scripts; switched off here
        # so that the test proves the escaping alone keeps model text inert.
        page = browser.new_page(viewport={"width": 1400, "height": 900}, bypass_csp=True)
        page.goto(viewer)
        page.wait_for_selector("button.problem")
        assert page.locator("button.problem").count() == 6
        page.fill("#f-q", "wait")
        expect(page.locator("button.problem")).to_have_count(3)
        assert "(3)" in page.locator("#f-run option").nth(1).inner_text()
        page.locator("button.problem").first.click()
        page.wait_for_selector("#tree-svg")
        assert page.locator("#tree-svg .node").count() == 3  # root, the backtracked step, the right answer
        assert page.locator("#tree-svg .edge.shortcut").count() == 1
        page.locator("#tree-svg .node[data-node='1']").click()
        assert "reason: Wait, that sum is off" in page.inner_text("#node")
        assert "<script>" in page.inner_text("#node")  # shown as text ...
        assert page.evaluate("window.pwned") is None  # ... and never run
        assert page.locator("mark.backtrack").count() >= 1 and page.locator("mark.reflect").count() >= 1
        page.click("#compare")
        page.wait_for_selector("#compare-view")
        assert page.locator("#compare-view .compare-column").count() == 2
        assert page.locator("#compare-view svg").count() == 2
        page.screenshot(path=str(artifacts / "viewer.png"), full_page=True)
        assert page.evaluate("window.pwned") is None
        browser.close()
    assert (artifacts / "viewer.png").stat().st_size > 10_000
