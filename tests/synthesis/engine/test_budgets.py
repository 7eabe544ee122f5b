"""A spent budget stops the run cleanly, and the manifest says which budget."""

import json

from tests.fakes import ScriptedLLM
from tests.synthesis.engine.scripted_run import make_problems, scripted_run, solver


async def test_budget_stops_cleanly_and_says_so(tmp_path):
    llm = ScriptedLLM(policy=["x"])  # 20 tokens per call
    run = scripted_run(tmp_path, {"policy": llm}, budget_tokens=50, concurrency=1)
    summary = await run.execute(make_problems(10), solver(llm))
    assert summary.status == "budget_exhausted" and summary.done == 3
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["status"] == "budget_exhausted" and "budget_tokens reached" in manifest["stop_note"]
