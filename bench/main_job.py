"""The README's main job against its own server: completion tokens/s of the job over the server's own tokens/s at
the same concurrency, measured side by side on one server in one run (goal >= 0.9).

    LONGTHOUGHT_DATA_DIR=../shared/data .venv/bin/python bench/main_job.py [--threads 1 2] [--rounds 1]

For each thread count: a fresh embedded server (LONGTHOUGHT_GGUF_THREADS), then, alternating for `--rounds`:
(a) the main job, `python -m synthesis.debate --problems math_train --limit 3` (in-process, into a fresh run
directory, so nothing is resumed or replayed), its completion tokens from its records over its wall time; and
(b) the server alone: as many raw chat requests in flight as the job had problems (3), each with a prompt of the
job's mean prompt length and its mean reply length, for about as long as the job ran; tokens/s from the server's
own `timings` (predicted_n) over the wall time. The ratio a/b says how much of its server's speed the job gets.
The machine may be shared: only ratios are printed, with the load (`uptime`) before and after.

`--cache-probe` first checks the first suspect, prompt re-processing across turns: N conversations that resend
their growing history each turn, as the debate's roles do, and the share of their prompt tokens the server
processed again (its `timings.prompt_n`) after the first turn. Measured 2026-12-04 (load 11.6 on 2 cores): 6
streams, 180 of 8,556 prompt tokens (2.1%); 12 streams over 8 slots, 318 of 17,716 (1.8%): the slots' prompt
cache works, so re-processing is not where the job loses its server's speed.

Measured 2026-12-05 on an idle 2-core machine (load 0.12 before): 1 thread, job 42.9 vs server 44.0 tok/s (ratio
0.98, job 229 s); 2 threads, 65.3 vs 65.2 (ratio 1.00, job 157 s). The job gets all of its server's speed; what
remained of the issue's gap was the thread count. `--server-only 60 [--busy-cores 1]` compares thread counts on
the server alone, idle and with one core taken by another process: idle, 2 threads 74.1 vs 1 thread 42.6 tok/s;
one core busy, 2 threads 26.6 vs 1 thread 42.9. So the default is one thread per core that is idle when the server
starts (agents/backends/gguf_models.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.backends import embedded  # noqa: E402  (first: it sets LITELLM_LOCAL_MODEL_COST_MAP before litellm loads)

MODEL = "embedded/smollm2-135m"
PROBLEMS = 3  # --limit 3: the job's problems, all in flight at once (concurrency 4)
JOB_PROMPT, JOB_REPLY = 315, 115  # the job's mean prompt and reply tokens per call, measured 2026-12-05


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


class Occupancy:
    """Where the job's share of its server goes: every 0.1 s, the slots decoding (the server's /slots) and the
    problems not yet finished (lines in records.jsonl). Time with fewer unfinished problems than PROBLEMS is the
    *tail* (nothing left to run); time with fewer slots busy than unfinished problems is the *gap* between a
    problem's turns (the client's own work: autogen, litellm, our code)."""

    def __init__(self, api_base: str, records: Path):
        self.url = api_base.removesuffix("/v1") + "/slots"
        self.records = records
        self.samples: list[tuple[int, int]] = []  # (busy slots, unfinished problems)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        import httpx

        key = embedded.litellm_route(MODEL)[2]
        with httpx.Client(timeout=5, headers={"Authorization": f"Bearer {key}"} if key else {}) as client:
            while not self._stop.wait(0.1):
                try:
                    busy = sum(slot.get("is_processing", False) for slot in client.get(self.url).json())
                except (httpx.HTTPError, ValueError):
                    continue
                done = self.records.read_text().count("\n") if self.records.is_file() else 0
                self.samples.append((busy, PROBLEMS - done))

    def __enter__(self) -> Occupancy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def shares(self) -> dict[str, float]:
        """Shares of the server's capacity at the job's concurrency (PROBLEMS streams): used, tail, gap."""
        n = max(len(self.samples), 1) * PROBLEMS
        used = sum(min(busy, PROBLEMS) for busy, _ in self.samples) / n
        tail = sum(PROBLEMS - unfinished for _, unfinished in self.samples) / n
        return {"used": used, "tail": tail, "gap": max(0.0, 1 - used - tail)}


def run_job(out: Path, api_base: str | None = None) -> dict:
    """The README's main job, timed; its completion and prompt tokens from the records it wrote."""
    from synthesis import debate

    started = time.perf_counter()
    with Occupancy(api_base, out / "records.jsonl") if api_base else contextlib.nullcontext() as occupancy:
        code = debate.main(["--problems", "math_train", "--limit", str(PROBLEMS), "--out", str(out)])
    wall = time.perf_counter() - started
    if not (out / "records.jsonl").is_file():
        raise SystemExit(f"the main job ended with exit {code} and wrote no records")
    completion = prompt = calls = 0
    for line in (out / "records.jsonl").read_text().splitlines():
        for usage in json.loads(line)["usage"].values():
            completion += usage["completion_tokens"]
            prompt += usage["prompt_tokens"]
            calls += usage["calls"]
    return {"exit": code, "wall_s": wall, "completion": completion, "prompt": prompt, "calls": calls,
            "occupancy": occupancy.shares() if occupancy else None}


async def run_server_alone(api_base: str, prompt_tokens: int, reply_tokens: int, seconds: float) -> dict:
    """PROBLEMS chats against the server for about `seconds`, each shaped like a debate's: every request resends the
    chat so far plus the last reply and a short turn, so the slot's prompt cache serves the old part and only the new
    tokens are processed, as for the job (a fresh prompt per request made the server pay for a whole uncached prompt
    each time: 540 tokens of prefill for a 114-token reply, and a reference slower than the job itself). A chat
    starts at about half the job's mean prompt and starts over past 1.5x, so its mean prompt is about the job's.
    Tokens by the server's own count."""
    import httpx

    predicted = 0
    counter = iter(range(10**9))

    def opening() -> list[dict]:
        # "w123" is about 3.5 SmolLM2 tokens; a new chat never shares a prefix with another one
        words = " ".join(f"w{next(counter)}" for _ in range(max(1, prompt_tokens // 7)))
        return [{"role": "user", "content": words}]

    async def stream(client: httpx.AsyncClient, deadline: float) -> None:
        nonlocal predicted
        messages = opening()
        while time.perf_counter() < deadline:
            reply = await client.post(f"{api_base}/chat/completions", json={
                "model": "bench", "messages": messages, "max_tokens": reply_tokens,
                "temperature": 0.7, "ignore_eos": True})
            reply.raise_for_status()
            body = reply.json()
            predicted += body.get("timings", {}).get("predicted_n", 0)
            if body["usage"]["prompt_tokens"] > 1.5 * prompt_tokens:
                messages = opening()
            else:
                messages += [{"role": "assistant", "content": body["choices"][0]["message"]["content"]},
                             {"role": "user", "content": f"Next {next(counter)}."}]

    headers = {}
    key = embedded.litellm_route(MODEL)[2]
    if key:
        headers["Authorization"] = f"Bearer {key}"
    async with httpx.AsyncClient(timeout=600, headers=headers) as client:
        started = time.perf_counter()
        await asyncio.gather(*(stream(client, started + seconds) for _ in range(PROBLEMS)))
        wall = time.perf_counter() - started
    return {"wall_s": wall, "completion": predicted}


async def cache_probe(api_base: str, streams: int, turns: int = 3) -> tuple[int, int]:
    """(prompt tokens, tokens the server processed again) over the turns after the first of `streams` chats."""
    import httpx

    later: list[tuple[int, int]] = []

    async def chat(client: httpx.AsyncClient, name: str) -> None:
        messages = [{"role": "user", "content": f"Problem {name}: " + " ".join(f"{name}{i}" for i in range(150))}]
        for turn in range(turns):
            reply = (await client.post(f"{api_base}/chat/completions", json={
                "model": "bench", "messages": messages, "max_tokens": 12, "temperature": 0})).json()
            if turn:
                later.append((reply["usage"]["prompt_tokens"], reply.get("timings", {}).get("prompt_n", 0)))
            messages += [{"role": "assistant", "content": reply["choices"][0]["message"]["content"]},
                         {"role": "user", "content": f"continue {turn}"}]

    key = embedded.litellm_route(MODEL)[2]
    async with httpx.AsyncClient(timeout=600, headers={"Authorization": f"Bearer {key}"} if key else {}) as client:
        await asyncio.gather(*(chat(client, f"s{k}") for k in range(streams)))
    return sum(prompt for prompt, _ in later), sum(processed for _, processed in later)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python bench/main_job.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="decode thread counts to compare")
    parser.add_argument("--rounds", type=int, default=1, help="job/server pairs per thread count")
    parser.add_argument("--cache-probe", action="store_true", help="first, the prompt cache across turns")
    parser.add_argument("--busy-cores", type=int, default=0, metavar="N",
                        help="keep N cores busy with spinning processes throughout (a shared machine, for choosing "
                             "the default thread count)")
    parser.add_argument("--server-only", type=float, default=0, metavar="SECONDS",
                        help="skip the job: only the server alone, this long per thread count, with the job's "
                             f"measured mean prompt ({JOB_PROMPT}) and reply ({JOB_REPLY}) tokens")
    parser.add_argument("--occupancy", action="store_true",
                        help="also sample the slots every 0.1 s during the job (the polling itself costs the server a "
                             "little: leave it off for the ratio)")
    args = parser.parse_args(argv)
    print(f"load before: {load()}", flush=True)
    with busy_cores(args.busy_cores):
        measure(args)
    print(f"load after: {load()}", flush=True)
    return 0


@contextlib.contextmanager
def busy_cores(count: int):
    """`count` processes that spin until the block ends: another user's work on a shared machine."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def measure(args: argparse.Namespace) -> None:
    if args.cache_probe:
        api_base = embedded.ensure_server(MODEL)
        for streams in (6, 12):
            prompt, processed = asyncio.run(cache_probe(api_base, streams))
            print(f"prompt cache, {streams} chats: after the first turn the server processed {processed} of {prompt} "
                  f"prompt tokens again ({processed / max(prompt, 1):.1%})", flush=True)
    for threads in args.threads:
        os.environ[embedded.SETTINGS_ENV["threads"]] = str(threads)
        embedded.stop_all()
        api_base = embedded.ensure_server(MODEL)
        if args.server_only:
            alone = asyncio.run(run_server_alone(api_base, JOB_PROMPT, JOB_REPLY, args.server_only))
            print(f"threads {threads}, {args.busy_cores} core(s) kept busy: server alone "
                  f"{alone['completion'] / alone['wall_s']:.1f} tok/s over {alone['wall_s']:.0f} s", flush=True)
            embedded.stop_all()
            continue
        for round_ in range(args.rounds):
            with tempfile.TemporaryDirectory() as folder:
                job = run_job(Path(folder) / "demo", api_base if args.occupancy else None)
            job_tps = job["completion"] / job["wall_s"]
            mean_prompt = job["prompt"] // max(job["calls"], 1)
            mean_reply = max(8, job["completion"] // max(job["calls"], 1))
            # a rate needs no more than 90 s; the job's whole length doubled the bench's time for nothing
            alone = asyncio.run(run_server_alone(api_base, mean_prompt, mean_reply, min(job["wall_s"], 90.0)))
            server_tps = alone["completion"] / alone["wall_s"]
            print(f"threads {threads} round {round_ + 1}: job exit {job['exit']}, {job['calls']} calls, "
                  f"{job['completion']} completion tokens (mean prompt {mean_prompt}, reply {mean_reply}); "
                  f"job/server tokens/s ratio {job_tps / server_tps:.2f}", flush=True)
            shares = job["occupancy"]
            print(f"  job {job['wall_s']:.1f} s, {job_tps:.1f} tok/s; server alone {server_tps:.1f} tok/s", flush=True)
            if shares:
                print(f"  slot-time of {PROBLEMS} streams: decoding {shares['used']:.0%}, tail (problems finished) "
                      f"{shares['tail']:.0%}, gaps between a problem's turns {shares['gap']:.0%}", flush=True)
        embedded.stop_all()


if __name__ == "__main__":
    sys.exit(main())
