"""Scaling out: a debate run on one embedded server against the same run on two servers behind the router.

    LONGTHOUGHT_DATA_DIR=../shared/data .venv/bin/python bench/scale.py [--problems math500] [--limit 6]

Starts two single-thread embedded llama.cpp servers on loopback, writes two router configs (one server; both
servers under the same model name), and runs `python -m synthesis.debate` on the same problems with each, in
this process. Prints completion tokens/s of each run (from the manifests: tokens the models wrote / wall time)
and the ratio two/one. On a 2-core machine two single-thread servers use both cores; on one core expect ~1.0.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml  # noqa: E402

from agents.backends.embedded import EMBEDDED_MODELS, EmbeddedServer  # noqa: E402
from synthesis import debate  # noqa: E402


def router_file(path: Path, api_bases: list[str]) -> Path:
    path.write_text(yaml.safe_dump({
        "model_list": [{"model_name": "smol", "litellm_params": {"model": "hosted_vllm/smollm2-135m", "api_base": base}}
                       for base in api_bases],
        "router_settings": {"routing_strategy": "least-busy"},
    }))
    return path


def timed_run(out: Path, router: Path, args: argparse.Namespace) -> tuple[int, float]:
    started = time.perf_counter()
    code = debate.main(["--problems", args.problems, "--limit", str(args.limit), "--out", str(out),
                        "--policy-model", "smol", "--critic-model", "smol", "--router-config", str(router),
                        "--concurrency", str(args.concurrency), "--max-turns", str(args.max_turns),
                        "--policy-max-tokens", "96", "--critic-max-tokens", "48", "--no-preflight"])
    seconds = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"the debate run into {out} exited with {code}")
    usage = json.loads((out / "manifest.json").read_text())["usage"]
    return usage["completion_tokens"], seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", default="math500", help="problem set name or .jsonl path")
    parser.add_argument("--limit", type=int, default=6)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--max-turns", type=int, default=4)
    args = parser.parse_args()
    servers = [EmbeddedServer(EMBEDDED_MODELS["smollm2-135m"]) for _ in range(2)]
    try:
        for server in servers:
            server.start()
        with tempfile.TemporaryDirectory(prefix="longthought-scale-") as work:
            work_dir = Path(work)
            one = timed_run(work_dir / "one", router_file(work_dir / "one.yaml", [servers[0].api_base]), args)
            two = timed_run(work_dir / "two", router_file(work_dir / "two.yaml", [s.api_base for s in servers]), args)
    finally:
        for server in servers:
            server.stop()
    rates = []
    print(f"debate, {args.limit} problems of {args.problems}, concurrency {args.concurrency}, max turns {args.max_turns}")
    for label, (tokens, seconds) in (("one server ", one), ("two servers", two)):
        rates.append(tokens / seconds)
        print(f"  {label}: {tokens} completion tokens in {seconds:.1f}s = {rates[-1]:.1f} tok/s")
    print(f"  ratio two/one = {rates[1] / rates[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
