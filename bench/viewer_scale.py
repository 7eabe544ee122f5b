"""Viewer scale: 2,000 synthetic records, time to list and to filter them (goal: under one second each).

    .venv/bin/python bench/viewer_scale.py [--records 2000]
    .venv/bin/python bench/viewer_scale.py --concurrent 200 [--backlog 5]   # burst: all answered, how fast

Times the loading of the run, then the HTTP round trips the page makes: the full list, a keyword filter
("wait"), and an outcome + action filter, each through the real server on 127.0.0.1. `--concurrent N` then
opens N connections at once, each asking for the run stats, and counts those answered within `--timeout`;
`--backlog` overrides the server's listen backlog (5 is socketserver's default) to see what it changes.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eval.viewer.data import Store  # noqa: E402
from eval.viewer.server import ViewerServer, make_server  # noqa: E402
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


def burst(url: str, clients: int, timeout: float) -> tuple[int, float]:
    """`clients` requests at once, each on its own connection: how many were answered, and the wall time."""
    answered = []
    ready = threading.Barrier(clients + 1)

    def one() -> None:
        ready.wait()
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                answered.append(bool(json.loads(response.read())))
        except (urllib.error.URLError, OSError):
            pass  # not answered in time, or the connection was refused or reset

    threads = [threading.Thread(target=one) for _ in range(clients)]
    for thread in threads:
        thread.start()
    ready.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    return len(answered), time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--concurrent", type=int, default=0, help="then N requests at once (0: skip)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds each concurrent request may take")
    parser.add_argument("--backlog", type=int, default=None,
                        help=f"listen backlog instead of the server's {ViewerServer.request_queue_size}")
    args = parser.parse_args()
    if args.backlog is not None:
        ViewerServer.request_queue_size = args.backlog
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
    if args.concurrent:
        # The clients run in another process, as a browser would: in this one they would hold the GIL the
        # server's accept loop needs, and measure that instead of the backlog.
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            answered, seconds = pool.apply(burst, (base.replace("/api/problems", "/api/stats"), args.concurrent,
                                                   args.timeout))
        print(f"  {args.concurrent} concurrent requests (backlog {server.request_queue_size}): {answered}/"
              f"{args.concurrent} answered in {seconds:.2f}s  goal: all, under one second")
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
