"""Viewer scale: 2,000 synthetic records, time to list and to filter them (goal: under one second each).

    .venv/bin/python bench/viewer_scale.py [--records 2000]

Times the loading of the run, then the HTTP round trips the page makes: the full list, a keyword filter
("wait"), and an outcome + action filter, each through the real server on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eval.viewer.data import Store  # noqa: E402
from eval.viewer.server import make_server  # noqa: E402
from protocols.loop import LoopState  # noqa: E402
from protocols.render import long_thought  # noqa: E402
from protocols.types import Action, Problem, Record, Verdict  # noqa: E402


def synthetic(index: int, rng: random.Random) -> Record:
    problem = Problem(id=f"s{index}", question=f"What is {index} + {index}?", answer=str(2 * index))
    state = LoopState()
    for turn in range(rng.randint(3, 12)):
        state.add_step(f"Step {turn}: {' '.join(rng.choice(['add', 'carry', 'check', 'sum']) for _ in range(30))}")
        action = rng.choice([Action.CONTINUE, Action.CONTINUE, Action.REFLECT, Action.BACKTRACK])
        state.apply(Verdict(action=action, reason="Wait, check the carry." if action is not Action.CONTINUE else "ok"))
        if state.done:
            break
    correct = rng.random() < 0.4
    return Record(problem_id=problem.id, attempt=rng.choice(["debate", "critique_loop"]), problem=problem,
                  tree=state.tree, turns=state.turns, long_thought=long_thought(state.tree, state.turns),
                  final_answer=str(2 * index) if correct else None, correct=correct, stop_reason="max_turns")


def timed(url: str) -> tuple[float, int]:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as response:
        total = json.loads(response.read())["total"]
    return time.perf_counter() - started, total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=2000)
    args = parser.parse_args()
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as scratch:
        run = Path(scratch) / "run"
        run.mkdir()
        (run / "records.jsonl").write_text("".join(synthetic(i, rng).to_json() + "\n" for i in range(args.records)))
        started = time.perf_counter()
        store = Store([run])
        load_seconds = time.perf_counter() - started
    server = make_server(store, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/api/problems"
    print(f"{args.records} records: load {load_seconds:.2f}s")
    for label, url in (("list all", base), ("filter 'wait'", f"{base}?q=wait"),
                       ("filter correct + backtrack", f"{base}?outcome=correct&action=backtrack")):
        seconds, total = timed(url)
        print(f"  {label:<28} {seconds * 1000:7.1f} ms  ({total} matches)  goal < 1000 ms")
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
