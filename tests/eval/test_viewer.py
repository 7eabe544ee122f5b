"""The viewer in a real browser (Playwright driving Debian's Chromium), plus its safety properties."""

import asyncio
import http.client
import json
import logging
import re
import socket
import threading
import time
import tomllib
import urllib.error
import urllib.request
import urllib.parse
from pathlib import Path

import pytest

from eval.viewer.__main__ import main as viewer_main
from eval.viewer.data import Store
from eval.viewer.server import CSP, STATIC, make_server, static_names
from protocols.types import Problem, Record, Sample, SampleSet
from synthesis.debate import DebateConfig, run_debate
from tests.fakes import ScriptedLLM

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")

INJECTION = "<script>window.pwned = 1</script><img src=x onerror=\"window.pwned = 2\">"
# Maths that must not become a link (KaTeX's trust: false) and a formula KaTeX cannot parse (shown as its source).
MATH_TRAPS = r" $\href{javascript:window.pwned=3}{x}$ and $\frac{1}$"


def _launch(playwright):
    """Debian's Chromium, headless, with nothing that reaches the network on its own."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=[
        "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"])


def _page_watching_csp(browser):
    """A page under the viewer's own CSP that records every violation in `window.violations`."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.add_init_script("window.violations = []; document.addEventListener('securitypolicyviolation',"
                         " (e) => window.violations.push(e.violatedDirective + ' ' + e.blockedURI));")
    return page


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
                        "1. {i} + {i} = 7 " + INJECTION + MATH_TRAPS.replace("{", "{{").replace("}", "}}"))
    second = _debate_run(tmp_path / "iteration-2", "ACTION: continue\nREASON: fine", "1. Add the two numbers.")
    server = make_server(Store([first, second]), port=0)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)  # quick shutdown
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def accuracy_runs(tmp_path_factory, data_dir) -> tuple[Path, Path]:
    """Two accuracy runs written by the real `eval.accuracy` on the same three MATH500 problems: the reference
    solutions (greedy), and two samples each of the same solutions with seeded, injected errors (the oracle's -e30)."""
    from eval.accuracy import main as accuracy_main

    root = tmp_path_factory.mktemp("accuracy")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LONGTHOUGHT_DATA_DIR", str(data_dir))
        for name, model, samples in (("acc-reference", "oracle/reference", 1), ("acc-e30", "oracle/reference-e30", 2)):
            argv = ["--model", model, "--problems", "math500", "--limit", "3", "--samples", str(samples),
                    "--out", str(root / name)]
            assert accuracy_main(argv) == 0, model
    return root / "acc-reference", root / "acc-e30"


def _sample_sets(path: Path) -> dict[str, SampleSet]:
    rows = [SampleSet.model_validate_json(line) for line in (path / "records.jsonl").read_text().splitlines() if line]
    return {row.problem_id: row for row in rows}


@pytest.fixture
def serve():
    """Start a viewer on loopback over a Store; returns its base URL. Stopped after the test."""
    servers = []

    def start(store: Store, host: str = "127.0.0.1") -> str:
        server = make_server(store, host=host, port=0)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return f"http://{host}:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def _ask(base: str, path: str, **headers: str) -> tuple[int, bytes]:
    """GET with exactly these headers (a `host` header replaces the one http.client would send)."""
    connection = http.client.HTTPConnection(base.removeprefix("http://"), timeout=10)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _raw(base: str, target: bytes) -> bytes:
    """The status line for a request line http.client would refuse to send (a NUL, a non-ASCII byte)."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: " + f"{host}:{port}".encode() + b"\r\n\r\n")
        return connection.makefile("rb").readline()


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


def test_a_foreign_host_header_is_refused_so_a_rebinding_page_reads_nothing(viewer):
    port = viewer.rsplit(":", 1)[1]
    for host in ("evil.example", f"evil.example:{port}", f"localhost:{int(port) + 1}", "localhost.evil.example",
                 f"127.0.0.1.nip.io:{port}", f"10.0.0.5:{port}"):
        for path in ("/api/problems", "/api/record?run=0&id=q0", "/"):
            status, body = _ask(viewer, path, host=host)
            assert (status, body) == (403, b"forbidden: unknown Host\n"), (host, path)
    status, body = _ask(viewer, "/api/stats")  # http.client names the server as 127.0.0.1:port
    assert status == 200 and json.loads(body)[0]["problems"] == 3
    for host in ("localhost", f"localhost:{port}", "127.0.0.1", f"127.0.0.1:{port}", f"[::1]:{port}",
                 f"LOCALHOST:{port}"):
        assert _ask(viewer, "/api/stats", host=host)[0] == 200, host


def test_a_cross_site_origin_is_refused_on_the_api(viewer):
    port = viewer.rsplit(":", 1)[1]
    host = f"127.0.0.1:{port}"
    for origin in ("http://evil.example", f"http://localhost:{int(port) + 1}", "null", f"https://{host}"):
        assert _ask(viewer, "/api/problems", host=host, origin=origin) == (403, b"forbidden: cross-origin request\n")
    assert _ask(viewer, "/api/problems", host=host, origin=f"http://{host}")[0] == 200  # the page's own fetch
    assert _ask(viewer, "/app.js", host=host, origin="http://evil.example")[0] == 200  # no data in static files


def test_the_host_given_is_accepted_and_a_wildcard_bind_takes_ip_literals_only(serve):
    explicit = serve(Store([]), host="127.0.0.2")  # loopback, but not a name the server knows by default
    port = explicit.rsplit(":", 1)[1]
    assert _ask(explicit, "/api/stats", host=f"127.0.0.2:{port}")[0] == 200
    assert _ask(explicit, "/api/stats", host=f"127.0.0.3:{port}")[0] == 403
    everywhere = make_server(Store([]), host="0.0.0.0", port=0, allow_remote=True)  # not served: only its rule
    port = everywhere.server_address[1]
    try:
        assert everywhere.host_allowed(f"192.168.1.5:{port}") and everywhere.host_allowed(f"[fe80::1]:{port}")
        assert not everywhere.host_allowed(f"attacker.example:{port}") and not everywhere.host_allowed(None)
    finally:
        everywhere.server_close()


BAD_QUERIES = [("/api/problems?limit=abc", "limit"), ("/api/problems?limit=-1", "limit"),
               ("/api/problems?run=x", "run"), ("/api/problems?run=-2", "run"), ("/api/problems?run=99", "run"),
               ("/api/problems?outcome=maybe", "outcome"), ("/api/problems?action=jump", "action"),
               ("/api/problems?cut=maybe", "cut"),
               ("/api/record?run=x&id=q0", "run")]


def test_a_bad_query_value_is_a_400_naming_the_parameter(viewer):
    for query, parameter in BAD_QUERIES:
        with pytest.raises(urllib.error.HTTPError) as refused:
            _get(viewer + query)
        error = json.loads(refused.value.read())["error"]
        assert refused.value.code == 400 and error.startswith(f"{parameter}: expected"), (query, error)


def test_limit_zero_lists_nothing_but_counts_everything(viewer):
    assert _get(f"{viewer}/api/problems?limit=0") == {**_get(f"{viewer}/api/problems"), "problems": []}


def test_a_nul_or_undecodable_path_is_a_404_not_a_dropped_connection(viewer):
    for target in (b"/\x00", b"/a\x00b.js", b"/\xff\xfe", b"/%00", b"/%ff", b"/../server.py", b"/..%2f__init__.py",
                   b"/api/nothing", b"//etc/passwd"):
        assert _raw(viewer, target).startswith(b"HTTP/1.0 404 "), target


def _sample_row(problem_id: str, *samples: tuple[str, str | None, bool, str | None]) -> str:
    problem = Problem(id=problem_id, question=f"Compute $\\frac{{1}}{{2}}$ for {problem_id}.", answer="\\frac{1}{2}")
    row = SampleSet(problem_id=problem_id, problem=problem, model="hf/journey-sft",
                    samples=[Sample(text=t, answer=a, correct=c, finish_reason=f) for t, a, c, f in samples])
    return row.model_dump_json()


def test_a_sample_run_lists_by_judged_samples_with_a_cut_filter_and_counts_bad_lines(tmp_path, caplog):
    # A bare records.jsonl (no manifest): its first row says it holds sample sets.
    rows = tmp_path / "samples.jsonl"
    rows.write_text("\n".join([
        _sample_row("p1", ("So $x = \\frac{1}{2}$.", "\\frac{1}{2}", True, "stop"),
                    ("Wait, let me", None, False, "length")),
        _sample_row("p2", ("It is $3$.", "3", False, "stop")),
        '{"problem_id": "torn',
        _sample_row("p3", ("I do not know", None, False, "stop")),
    ]) + "\n")
    with caplog.at_level(logging.WARNING, logger="longthought.viewer"):
        store = Store([rows])
    assert {e.problem_id: e.outcome for e in store.entries} == {"p1": "correct", "p2": "incorrect", "p3": "no_answer"}
    assert [e.problem_id for e in store.filter(cut="yes")] == ["p1"] and len(store.filter(cut="no")) == 2
    assert [e.problem_id for e in store.filter(query="wait, let me")] == ["p1"]  # every sample's text is searched
    assert store.counts(store.entries)["cut"] == {"yes": 1, "no": 2}
    [stats] = store.stats()
    assert stats["kind"] == "samples" and stats["samples"] == 4 and stats["models"] == ["hf/journey-sft"]
    assert stats["share_correct"] == round((0.5 + 0 + 0) / 3, 3) and stats["pass_at_k"] == round(1 / 3, 3)
    assert stats["finish_reasons"] == {"stop": 3, "length": 1}
    assert stats["bad_lines"] == 1 and stats["first_bad_line"] == f"{rows}:3" and len(caplog.messages) == 1
    with rows.open("a") as handle:  # read on incrementally, as for synthesis records
        handle.write(_sample_row("p4", ("$4$", "4", False, "length")) + "\n")
    store.refresh()
    assert len(store.entries) == 4 and [e.problem_id for e in store.filter(cut="yes")] == ["p1", "p4"]


def test_a_dpo_sampling_run_is_known_by_its_manifest(tmp_path):
    run = tmp_path / "dpo" / "samples"
    run.mkdir(parents=True)
    (run / "manifest.json").write_text(json.dumps({"attempt": "dpo_samples", "status": "running"}))
    (run / "records.jsonl").write_text("")  # started, nothing finished yet
    store = Store([run])
    assert store.stats()[0]["kind"] == "samples" and store.entries == []
    (run / "records.jsonl").write_text(_sample_row("p1", ("$1$", "1", False, "stop")) + "\n")
    store.refresh()
    assert [(e.attempt, e.kind, e.outcome) for e in store.entries] == [("dpo_samples", "samples", "incorrect")]


def test_accuracy_runs_from_the_real_writer_are_served_beside_synthesis_runs(accuracy_runs, viewer, tmp_path, serve):
    reference, injected = accuracy_runs
    base = serve(Store([reference, injected, tmp_path / "iteration-1"]))  # the debate run made by `viewer`
    stats = _get(f"{base}/api/stats")
    assert [run["kind"] for run in stats] == ["samples", "samples", "records"]
    assert stats[0]["attempts"] == ["accuracy"] and stats[1]["models"] == ["oracle/reference-e30"]
    accuracy = json.loads((injected / "accuracy.json").read_text())
    assert stats[1]["share_correct"] == pytest.approx(accuracy["accuracy"], abs=5e-4) and stats[1]["samples"] == 6
    rows = _sample_sets(injected)
    listed = _get(f"{base}/api/problems?run=1")["problems"]
    passed = {i: any(sample.correct for sample in r.samples) for i, r in rows.items()}  # pass@2
    assert {p["id"]: p["outcome"] == "correct" for p in listed} == passed
    assert stats[1]["pass_at_k"] == pytest.approx(accuracy["pass_at_k"], abs=5e-4)
    assert {p["id"]: p["final_answer"] for p in listed} == {i: r.samples[0].answer for i, r in rows.items()}
    some_id = next(iter(rows))
    row = _get(f"{base}/api/record?run=1&id={some_id}")
    assert row["kind"] == "samples" and row["samples"][0]["text"] == rows[some_id].samples[0].text
    assert _get(f"{base}/api/record?run=2&id=q0")["kind"] == "records"
    assert _get(f"{base}/api/problems?attempt=accuracy")["total"] == 6


def test_vendored_katex_is_served_with_its_types_under_the_same_csp(viewer):
    css = (STATIC / "katex" / "katex.min.css").read_text()
    fonts = set(re.findall(r"url\(([^)]+)\)", css))
    assert fonts and all(font.endswith(".woff2") for font in fonts)  # the src lists were trimmed to woff2
    wanted = {"/katex/katex.min.css": "text/css", "/katex/katex.min.js": "text/javascript",
              "/katex/auto-render.min.js": "text/javascript", "/math.js": "text/javascript",
              **{f"/katex/{font}": "font/woff2" for font in fonts}}
    for path, content_type in wanted.items():
        with urllib.request.urlopen(viewer + path, timeout=10) as response:
            assert response.headers["content-type"].startswith(content_type), path
            assert response.headers["content-security-policy"] == CSP, path
            body = response.read()
        assert not content_type.startswith("font") or body[:4] == b"wOF2", path
    page = (STATIC / "index.html").read_text()
    for name in ("katex/katex.min.js", "katex/auto-render.min.js", "katex/katex.min.css", "math.js"):
        assert f'"/{name}"' in page, name  # absolute: /problem/<id> pages load them too
    for target in (b"/katex/../app.js", b"/katex/fonts/../../server.py", b"/katex/LICENSE", b"/katex/README.md",
                   b"/katex//katex.min.js", b"/KATEX/katex.min.js", b"/katex", b"/katex/", b"/katex%2Fkatex.min.js",
                   b"/./katex/katex.min.js", b"/katex/fonts"):
        assert _raw(viewer, target).startswith(b"HTTP/1.0 404 "), target


def test_package_data_ships_every_static_file():
    globs = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["eval"]
    shipped = {path for pattern in globs for path in (REPO / "eval").glob(pattern) if path.is_file()}
    assert set(static_names().values()) <= shipped
    assert (STATIC / "katex" / "LICENSE") in shipped


def test_a_bad_port_is_one_line_from_the_cli(viewer, tmp_path, capsys):
    run = tmp_path / "iteration-1"  # made by the viewer fixture
    assert viewer_main([str(run), "--port", "99999"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --port 99999: expected 0-65535"), lines


def test_a_port_in_use_is_one_line_naming_the_flags(viewer, tmp_path, capsys):
    import socket

    run = tmp_path / "iteration-1"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert viewer_main([str(run), "--port", str(port)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: cannot serve on --host 127.0.0.1 --port {port}: "), lines


def test_200_concurrent_requests_are_all_answered(viewer):
    # The timing lives in bench/viewer_scale.py --concurrent; with the default backlog of 5 some of these were
    # still waiting on SYN retries after 10 s.
    answered = []
    together = threading.Barrier(200)

    def one() -> None:
        together.wait()
        try:
            answered.append(len(_get(f"{viewer}/api/stats")))
        except OSError as error:  # timed out, refused or reset
            answered.append(type(error).__name__)

    threads = [threading.Thread(target=one) for _ in range(200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answered == [2] * 200, sorted(set(map(str, answered)))


def test_a_malformed_line_is_skipped_counted_and_named_once_per_run(tmp_path, caplog):
    good = (_debate_run(tmp_path / "source", "ACTION: continue\nREASON: fine", "1. Add.") / "records.jsonl").read_text()
    q0, q1, q2 = good.splitlines()
    run = tmp_path / "killed"
    run.mkdir()
    torn, blank, not_a_record, not_utf8 = q1[:40], "", '{"problem_id": "x"}', "\udcff"
    lines = [q0, torn, blank, not_a_record, q1, not_utf8, q2[:30]]  # the last one is still being written
    (run / "records.jsonl").write_bytes("\n".join(lines).encode("utf-8", "surrogateescape"))
    with caplog.at_level(logging.WARNING, logger="longthought.viewer"):
        store = Store([run])
    [stats] = store.stats()
    assert stats["problems"] == 2 and stats["bad_lines"] == 3  # the unterminated tail is not counted (yet)
    assert stats["first_bad_line"] == f"{run / 'records.jsonl'}:2"
    [warning] = caplog.messages
    assert warning.startswith(f"{run / 'records.jsonl'}:2: skipped 3 malformed line(s)") and "\n" not in warning


def test_a_run_still_being_written_shows_new_lines_on_the_next_request(tmp_path, serve):
    good = (_debate_run(tmp_path / "source", "ACTION: continue\nREASON: fine", "1. Add.") / "records.jsonl").read_text()
    q0, q1, q2 = good.splitlines()
    run = tmp_path / "live"
    run.mkdir()
    records = run / "records.jsonl"
    records.write_text(f"{q0}\n{q1[:50]}")  # the writer is half way through q1
    base = serve(Store([run]))

    def seen() -> tuple[int, int, list[str]]:
        [stats] = _get(f"{base}/api/stats")
        return stats["problems"], stats["bad_lines"], [p["id"] for p in _get(f"{base}/api/problems")["problems"]]

    assert seen() == (1, 0, ["q0"])
    with records.open("a") as handle:
        handle.write(f"{q1[50:]}\n")
    assert seen() == (2, 0, ["q0", "q1"])
    assert _get(f"{base}/api/record?run=0&id=q1")["problem_id"] == "q1"
    with records.open("a") as handle:
        handle.write(q2[:20])  # killed mid-line: waits, uncounted
    assert seen() == (2, 0, ["q0", "q1"])
    with records.open("r+") as handle:  # the resume cuts the torn line and writes q2 again
        handle.truncate(len(q0) + len(q1) + 2)
        handle.seek(0, 2)
        handle.write(f"{q2}\n")
    assert seen() == (3, 0, ["q0", "q1", "q2"])
    with records.open("a") as handle:
        handle.write(f"{q0[:20]}\n{q0}\n")  # a torn line followed by more lines is a bad line
    assert seen() == (3, 1, ["q0", "q1", "q2"])
    records.write_text(f"{q0}\n")  # rewritten shorter (a resume cutting lines): read afresh
    assert seen() == (1, 0, ["q0"])
    records.write_text(f"{q1}\n{q2}\n")  # rewritten longer in place (`cp` over it): read afresh too
    assert seen() == (2, 0, ["q1", "q2"])


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed (scripts/install-browser.sh)")
def test_browser_filter_open_click_compare_and_no_script_injection(viewer, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    artifacts = Path(__file__).resolve().parents[2] / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = _launch(playwright)
        # bypass_csp: the page's own Content-Security-Policy would also stop injected scripts; switched off here
        # so that the test proves the escaping alone keeps model text inert.
        page = browser.new_page(viewport={"width": 1400, "height": 900}, bypass_csp=True)
        page.goto(viewer)
        page.wait_for_selector("button.problem")
        assert page.locator("button.problem").count() == 6
        header = page.inner_text("#stats")
        assert "stops terminated by the critic: 3" in header and "{" not in header  # words, not a JSON object
        page.fill("#f-q", "wait")
        expect(page.locator("button.problem")).to_have_count(3)
        assert "(3)" in page.locator("#f-run option").nth(1).inner_text()
        page.locator("button.problem").first.click()
        page.wait_for_selector("#tree-svg")
        assert page.locator("#tree-svg .node").count() == 3  # root, the backtracked step, the right answer
        assert page.locator("#tree-svg .edge.shortcut").count() == 1
        for where in (".thought", "pre.shortcut"):  # "So 0 + 0 = \\boxed{0}", boxed outside any $...$
            assert page.locator(f"{where} .katex").count() >= 1 and "\\boxed" not in page.evaluate(RAW_TEXT, where)
        page.locator("#tree-svg .node[data-node='0']").click()  # the root: no step, no reason
        assert "null" not in page.inner_text("#node").splitlines()
        page.locator("#tree-svg .node[data-node='1']").click()
        assert "reason: Wait, that sum is off" in page.inner_text("#node")
        assert "<script>" in page.inner_text("#node")  # shown as text ...
        assert page.locator("#node .katex-error").inner_text() == r"\frac{1}"  # a bad formula shows as its source
        assert page.locator("a").count() == 0  # \href stayed text (trust: false)
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


# Text outside KaTeX's output (its hidden MathML copy keeps the TeX source): what a reader sees as raw text.
RAW_TEXT = """(selector) => {
  const root = document.querySelector(selector);
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const parts = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.parentElement.closest(".katex")) parts.push(node.data);
  }
  return parts.join("");
}"""


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed (scripts/install-browser.sh)")
def test_browser_opens_accuracy_runs_renders_maths_and_compares_two_models(accuracy_runs, serve):
    from playwright.sync_api import expect, sync_playwright

    reference, injected = accuracy_runs
    rows = _sample_sets(reference), _sample_sets(injected)
    problem_id = next(i for i, row in rows[0].items() if "\\frac" in row.samples[0].text)
    base = serve(Store([reference, injected]))
    alone = serve(Store([injected]))  # one run: nothing to compare with
    artifacts = REPO / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = _launch(playwright)
        page = _page_watching_csp(browser)
        fonts = []
        page.on("response", lambda response: fonts.append((response.url, response.status))
                if response.url.endswith(".woff2") else None)
        page.goto(base)
        page.wait_for_selector("button.problem")
        assert page.locator("button.problem").count() == 6
        header = page.inner_text("#stats")
        assert "oracle/reference-e30" in header and "finish stopped: 3" in header and "{" not in header
        page.select_option("#f-run", "1")
        expect(page.locator("button.problem")).to_have_count(3)
        page.select_option("#f-outcome", "correct")
        passed = sum(any(sample.correct for sample in r.samples) for r in rows[1].values())
        expect(page.locator("button.problem")).to_have_count(passed)
        page.select_option("#f-outcome", "")
        page.select_option("#f-run", "")
        page.locator(f"button.problem[data-run='0'][data-id='{problem_id}']").click()
        page.wait_for_selector(".sample")
        assert page.locator(".sample").count() == 1 and page.locator(".question .katex").count() >= 1
        assert page.locator(".sample-text .katex").count() >= 1 and page.locator(".tex-answer .katex").count() >= 1
        assert "\\frac" not in page.evaluate(RAW_TEXT, ".sample-text")  # rendered, not shown as source
        assert "correct" in page.inner_text(".sample-head")
        assert "null" not in page.inner_text("#detail").splitlines()
        page.select_option("#compare-run", "1")
        page.click("#compare")
        page.wait_for_selector("#compare-view")
        columns = page.locator("#compare-view .compare-column")
        assert columns.count() == 2
        for column, (run, judged) in zip((columns.nth(0), columns.nth(1)), enumerate(rows)):
            samples = judged[problem_id].samples
            assert column.get_attribute("data-run") == str(run)
            assert column.locator(".sample").count() == len(samples) == run + 1
            for index, sample in enumerate(samples):
                head = column.locator(f".sample[data-sample='{index}'] .sample-head")
                judgment = head.locator(".answer").inner_text()
                assert judgment.startswith("correct" if sample.correct else "wrong"), judgment
                assert head.locator(".tex-answer").get_attribute("data-tex") == sample.answer
            assert column.locator(".sample-text .katex").count() >= len(samples)
        shown = columns.nth(1).locator(".sample-filter")  # which of one problem's samples are shown
        for judgment in (True, False):  # of two samples, one of these choices hides at least one
            shown.select_option("correct" if judgment else "wrong")
            expect(columns.nth(1).locator(".sample:visible")).to_have_count(
                sum(sample.correct == judgment for sample in rows[1][problem_id].samples))
        page.screenshot(path=str(artifacts / "viewer-accuracy.png"), full_page=True)
        page.goto(alone)
        page.locator("button.problem").first.click()
        page.wait_for_selector(".sample")
        assert page.locator("#compare").count() == 0
        assert "null" not in page.inner_text("#detail").splitlines()  # the missing compare line printed "null"
        assert page.evaluate("window.violations") == []  # KaTeX's output fits the page's CSP
        browser.close()
    assert fonts and all(status == 200 for _, status in fonts), fonts  # KaTeX's fonts, from the package


# -- the oracle mark, the truth about a tree, and a URL per problem ---------------------------------------------------

@pytest.fixture(scope="module")
def oracle_debate(tmp_path_factory, data_dir) -> Path:
    """A real debate run on three MATH500 problems by the oracle (its policy errs, its critic corrects), made by the
    command itself, so every record carries the engine's oracle mark."""
    from synthesis import debate

    out = tmp_path_factory.mktemp("oracle") / "rehearsal"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LONGTHOUGHT_DATA_DIR", str(data_dir))
        assert debate.main(["--problems", "math500", "--limit", "3", "--out", str(out), "--policy-model",
                            "oracle/reference-e30", "--critic-model", "oracle/reference"]) == 0
    return out


def test_the_api_marks_oracle_rows_and_ties_paragraphs_to_nodes(oracle_debate, viewer, serve):
    base = serve(Store([oracle_debate]))
    stats = _get(base + "/api/stats")
    assert stats[0]["oracle_roles"] == ["critic", "policy"]
    listed = _get(base + "/api/problems")["problems"]
    assert listed and all(entry["oracle_roles"] == ["critic", "policy"] for entry in listed)
    record = _get(base + "/api/record?run=0&id=" + urllib.parse.quote(listed[0]["id"]))
    view = record["view"]
    assert view["oracle_roles"] == ["critic", "policy"]
    steps = {node["id"] for node in record["tree"]["nodes"] if node["step"]}
    assert set(view["narrated"]) == steps  # a debate tells every step it proposed
    assert "".join(p["text"] for p in view["paragraphs"]).replace("\n", "") == \
        record["long_thought"].replace("\n", "")
    # the scripted run: no oracle, and its backtracked wrong step is narrated and its paragraph tied to it
    plain = _get(viewer + "/api/record?run=0&id=q1")
    wrong = [node["id"] for node in plain["tree"]["nodes"] if node["correct"] is False]
    assert plain["view"]["oracle_roles"] == [] and wrong and plain["view"]["narrated_wrong"] == wrong
    assert any(p["node"] == wrong[0] and p["correct"] is False for p in plain["view"]["paragraphs"])
    assert _get(viewer + "/api/stats")[0]["oracle_roles"] == []


def _tree_search_run(directory: Path) -> Path:
    """A tree search whose wrong branch runs two steps deep, narrated as a trial; its rewrite was unfaithful."""
    from protocols.types import Step, ThoughtTree

    tree = ThoughtTree()
    one = tree.add(0, step=Step(index=1, text="Let x = 2."), correct=True)
    wrong = tree.add(one.id, step=Step(index=2, text="Then 2x = 6."), correct=False)
    deeper = tree.add(wrong.id, kind="answer", step=Step(index=3, text="So x = 3, \\boxed{3}."), correct=False, answer="3")
    right = tree.add(one.id, kind="answer", step=Step(index=2, text="Then 2x = 4, so \\boxed{4}."), correct=True, answer="4")
    draft = ("1. Let x = 2.\n\n2. Then 2x = 6.\n\n3. So x = 3, \\boxed{3}.\n\nThat cannot be: 2 times 2 is 4.\n\n"
             "2. Then 2x = 4, so \\boxed{4}.")
    problem = Problem(id="t/1", question="x = 2; 2x?", answer="4")
    record = Record(problem_id="t/1", attempt="tree_search", problem=problem, tree=tree, shortcut="1. Let x = 2.",
                    long_thought=draft, final_answer="4", correct=True, stop_reason="correct_leaf_found",
                    meta={"draft": draft, "rewrite": "I set x = 2 and got \\boxed{4}.", "rewrite_faithful": False,
                          "rewrite_missing": ["Then 2x = 6."], "rewrite_reason": "missing '6' from text 2",
                          "trial_branches": [[wrong.id, deeper.id]], "oracle_roles": ["policy", "rewriter"]})
    directory.mkdir(parents=True)
    (directory / "records.jsonl").write_text(record.to_json() + "\n")
    assert right.id == 4
    return directory


def test_a_tree_search_view_names_its_narrated_wrong_branch_and_its_unfaithful_rewrite(tmp_path):
    from eval.viewer.record_view import view

    record = Record.model_validate_json((_tree_search_run(tmp_path / "tree") / "records.jsonl").read_text())
    shown = view(record, run_roles=[])
    assert shown["oracle_roles"] == ["policy", "rewriter"]  # the row's own mark wins over its run's
    assert shown["narrated_as_wrong"] == shown["narrated_wrong"] == [2, 3] and shown["narrated"] == [1, 2, 3, 4]
    assert [(p["node"], p["correct"]) for p in shown["paragraphs"]] == [
        (1, True), (2, False), (3, False), (None, None), (4, True)]
    assert shown["faithfulness"] == {"draft": record.long_thought, "rewrite": "I set x = 2 and got \\boxed{4}.",
                                     "faithful": False, "missing": ["Then 2x = 6."],
                                     "reason": "missing '6' from text 2", "used": "draft"}


def test_a_problem_url_serves_the_page_under_the_same_csp(viewer):
    for path in ("/problem/q1", "/problem/test/precalculus/190.json?run=1", "/problem/a%2Fb"):
        with urllib.request.urlopen(viewer + path, timeout=10) as response:
            assert response.status == 200 and response.headers["content-type"].startswith("text/html"), path
            assert response.headers["content-security-policy"] == CSP
            assert b'<script src="/app.js">' in response.read()
    assert _raw(viewer, b"/problems").startswith(b"HTTP/1.0 404 ")  # only /problem/<id> is the page


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed (scripts/install-browser.sh)")
def test_browser_shows_the_oracle_badge_node_text_legend_narration_and_opens_a_problem_url(oracle_debate, viewer,
                                                                                          tmp_path, serve):
    from playwright.sync_api import expect, sync_playwright

    from eval.viewer.data import Store as ViewerStore

    records = [Record.model_validate_json(line) for line in (oracle_debate / "records.jsonl").read_text().splitlines()]
    record = records[0]
    step = next(node for node in record.tree.nodes if node.step)
    base = serve(ViewerStore([oracle_debate, tmp_path / "iteration-1", _tree_search_run(tmp_path / "tree")]))
    artifacts = REPO / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = _launch(playwright)
        page = _page_watching_csp(browser)
        # A problem's own URL opens it (its id holds slashes), in the run named.
        page.goto(f"{base}/problem/{record.problem_id}?run=0")
        page.wait_for_selector("#tree-svg")
        assert page.inner_text("#detail h2") == record.problem_id
        assert page.title().startswith(record.problem_id)
        # The badge: on the run in the header, on the problem in the list, on the record.
        assert "ORACLE DATA (critic, policy)" in page.inner_text("#stats .run[data-run='0']")
        assert "ORACLE" not in page.inner_text("#stats .run[data-run='1']")
        assert page.locator("button.problem[data-run='0'] .oracle-tag").count() == len(records)
        assert page.locator("button.problem[data-run='1'] .oracle-tag").count() == 0
        assert "ORACLE DATA (critic, policy)" in page.inner_text("#detail .oracle-notice")
        # Each node's index and step text: in the tree's labels and in the node table.
        label = page.locator(f"#tree-svg text[data-label='{step.id}']").text_content()
        assert label.startswith(f"#{step.id} · s{step.step.index} ") and label.split(" ", 3)[3][:10] in \
            " ".join(step.step.text.split())
        row = page.locator(f".node-table tr[data-node='{step.id}']")
        assert row.locator("td").nth(1).inner_text() == str(step.step.index)
        assert row.locator("td").nth(6).inner_text() == "yes"  # the long thought narrates it
        assert page.locator(".node-table tr.node-row").count() == len(record.tree.nodes)
        assert page.locator("#legend").inner_text().count("wrong step") >= 2
        page.screenshot(path=str(artifacts / "viewer-oracle.png"), full_page=True)
        # The new parts fit the page's CSP (the scripted run below holds a formula KaTeX cannot parse, whose style
        # attribute the CSP drops, by design: see eval/viewer/server.py).
        assert page.evaluate("window.violations") == []
        # The scripted run: its wrong step is ringed as narrated, its paragraph coloured; clicking a problem moves the URL.
        page.locator("button.problem[data-run='1'][data-id='q1']").click()
        page.wait_for_url(re.compile(r".*/problem/q1\?run=1$"))  # (wait_for_function would need the CSP's eval)
        expect(page.locator("#detail h2")).to_have_text("q1")
        assert page.locator("#detail .oracle-notice").count() == 0
        page.wait_for_selector("#tree-svg .narrated-ring")
        assert page.locator("#tree-svg .narrated-ring").count() == 1
        assert page.locator(".thought p.linked.is-wrong").count() == 1
        assert page.locator(".node-table tr.narrated-wrong").count() == 1
        page.go_back()
        expect(page.locator("#detail h2")).to_have_text(record.problem_id)  # back: the URL's problem again
        # A tree search: its two-step wrong branch ringed and coloured, the draft beside the rejected rewrite.
        page.goto(f"{base}/problem/t/1")  # no run given: the first run that has it
        page.wait_for_selector(".faithfulness")
        assert "run=2" in page.url and page.locator("#tree-svg .narrated-ring").count() == 2
        assert page.locator(".thought p.linked.is-wrong").count() == 2
        assert "(the long thought)" in page.inner_text(".faithfulness .draft-column h4")
        assert "I set x = 2" in page.inner_text(".faithfulness .rewrite-column")
        check = page.inner_text(".faithfulness .check-column")
        assert "unfaithful" in check and "Then 2x = 6." in check
        page.screenshot(path=str(artifacts / "viewer-tree.png"), full_page=True)
        assert page.locator("a").count() == 0
        browser.close()
    assert (artifacts / "viewer-oracle.png").stat().st_size > 10_000


class _SlowRunOne(Store):
    """A store whose answers for run 1 come late: the server answers filter changes out of order."""

    def filter(self, *args, **kwargs):
        if kwargs.get("run") == 1:
            time.sleep(1.5)
        return super().filter(*args, **kwargs)


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed (scripts/install-browser.sh)")
def test_an_older_answer_arriving_last_does_not_redraw_the_list(tmp_path, serve):
    """Select run 1, then all runs at once: run 1's late answer must not replace the list of all runs (it did, and a
    problem of run 0 could not be clicked)."""
    from playwright.sync_api import expect, sync_playwright

    first = _debate_run(tmp_path / "iteration-1", "ACTION: continue\nREASON: fine", "1. Add the two numbers.")
    second = _debate_run(tmp_path / "iteration-2", "ACTION: continue\nREASON: fine", "1. Add the two numbers.")
    base = serve(_SlowRunOne([first, second]))
    with sync_playwright() as playwright:
        browser = _launch(playwright)
        page = _page_watching_csp(browser)
        page.goto(base)
        expect(page.locator("button.problem")).to_have_count(6)
        page.select_option("#f-run", "1")
        page.select_option("#f-run", "")
        page.wait_for_timeout(2500)  # run 1's answer has come back by now
        expect(page.locator("button.problem")).to_have_count(6)
        browser.close()
