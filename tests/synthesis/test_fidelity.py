"""The fidelity suite on 20 real MATH500 problems: all four attempts through the oracle, every invariant exact."""

import importlib.util
import re
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "fidelity.py"


def _suite():
    spec = importlib.util.spec_from_file_location("bench_fidelity", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_all_four_attempts_write_faithful_data_on_20_problems(tmp_path, with_data_dir):
    results = _suite().run_suite("math500", 20, tmp_path)
    for attempt, result in results.items():
        rows = dict(result.rows())
        assert result.records == result.problems > 0, (attempt, rows)
        assert result.correct == result.problems, (attempt, rows, result.examples)
        assert result.injected > 0 and result.caught_and_corrected == result.injected, (attempt, result.examples)
        assert result.wrong_on_shortcut == result.misnarrated == result.leaks == 0, (attempt, result.examples)
        assert result.journeys > 0
    for attempt in ("tree_search", "human_annotation"):
        result = results[attempt]
        assert result.rewrites_accepted >= 0.95 * result.rewrites > 0, (attempt, result.examples)
        assert result.lossy_rejected == result.lossy > 0, (attempt, result.examples)


@pytest.mark.slow
def test_the_readme_rehearsal_runs_and_the_viewer_shows_it(tmp_path, with_data_dir):
    import json
    import subprocess
    import sys
    import threading
    import urllib.request

    from eval.fidelity import measure_run
    from eval.viewer.data import Store
    from eval.viewer.server import make_server

    out = tmp_path / "rehearsal"
    result = subprocess.run([sys.executable, "-m", "synthesis.debate", "--problems", "math500", "--limit", "20",
                             "--policy-model", "oracle/reference-e30", "--critic-model", "oracle/reference",
                             "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert re.search(r"20 new records \(correct \d+/20; [a-z_ \d,]+\), 0 failed", result.stderr), result.stderr[-2000:]
    assert "cost $0.0000" in result.stderr
    # The per-model table above the last line: each role on its own model, with its calls.
    assert re.search(r"^policy +oracle/reference-e30 +[1-9][\d,]* ", result.stderr, re.M), result.stderr[-2000:]
    assert re.search(r"^critic +oracle/reference +[1-9][\d,]* ", result.stderr, re.M), result.stderr[-2000:]
    fidelity = measure_run(out)
    assert fidelity.holds() and fidelity.injected > 0 and fidelity.journeys > 0, fidelity.examples
    server = make_server(Store([out]), port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        with urllib.request.urlopen(f"{base}/api/problems?action=backtrack", timeout=10) as response:
            listing = json.loads(response.read())
        assert listing["total"] > 0 and all("backtrack" in problem["actions"] for problem in listing["problems"])
    finally:
        server.shutdown()
        server.server_close()
