"""The journey-effect table from results files alone: accuracy with intervals, paired tests, behaviour.

    python -m eval.journey_effect recipes/journey-effect/results/full --out runs/journey-effect-report

Reads every `<arm>-s<seed>.json` written by `training.journey_effect.run` (whatever machine or time wrote it).
Each arm is compared with the shortcut arm of the same seed on the same held-out problems: the paired difference
with Newcombe's interval and an exact McNemar p. Behaviour at test time: the share of answers that backtrack, the
share of those that end correct (recovery), loops, answers cut at the cap, and generated tokens.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from eval.paired_stats import paired_difference, wilson
from protocols.arithmetic import describe_answer

ARM_ORDER = ("phase1", "shortcut", "journey-k1", "journey-k2", "journey-k4", "mixed-25", "mixed-50", "mixed-75")


def load_results(folder: Path) -> list[dict]:
    rows = []
    for path in sorted(folder.glob("*-s*.json")):
        data = json.loads(path.read_text())
        if data.get("experiment") == "journey-effect":
            data["file"] = str(path)
            rows.append(data)
    rank = {arm: i for i, arm in enumerate(ARM_ORDER)}
    return sorted(rows, key=lambda r: (rank.get(r["arm"], len(rank)), r["seed"]))


def _rate(flags: list[bool]) -> float:
    return sum(flags) / len(flags) if flags else 0.0


def _described(problem: dict) -> dict:
    """A per-problem row with the backtracking facts; files written before they existed get them from the output
    (the first pass ends before the first check, so a stored output cut at 800 characters still tells it)."""
    if "first_pass_correct" in problem or "output" not in problem:
        return problem
    found = describe_answer(problem["output"], problem["gold"])
    return {**problem, **{key: value for key, value in found.items() if key not in ("answer", "correct")}}


def arm_row(result: dict, shortcut: dict | None) -> dict:
    per = [_described(p) for p in result["per_problem"]]
    correct = [p["correct"] for p in per]
    first_wrong = [p for p in per if p.get("first_pass_correct") is False]
    first_right = [p for p in per if p.get("first_pass_correct") is True]
    checks = sum(p.get("checks", 0) for p in per)
    row = {
        "arm": result["arm"], "seed": result["seed"], "n": len(per), "accuracy": _rate(correct),
        "ci": wilson(sum(correct), len(per)),
        "backtrack_rate": _rate([p["backtracked"] for p in per]),
        "recovery_rate": _rate([p["recovered"] for p in first_wrong]) if first_wrong else None,
        "broke_rate": _rate([p["broke"] for p in first_right]) if first_right else None,
        "spurious_check_rate": sum(p.get("spurious_checks", 0) for p in per) / checks if checks else None,
        "loop_rate": _rate([p["looped"] for p in per]), "cut_rate": _rate([p["cut"] for p in per]),
        "mean_tokens": sum(p["tokens"] for p in per) / max(1, len(per)),
        "train_tokens": result.get("data", {}).get("train", {}).get("tokens"),
        "wrong_branches_used": result.get("data", {}).get("wrong_branches_used"),
        "paired": None,
    }
    if shortcut is not None and result["arm"] != "shortcut":
        theirs = {p["id"]: p["correct"] for p in shortcut["per_problem"]}
        ids = [p["id"] for p in per if p["id"] in theirs]
        mine = {p["id"]: p["correct"] for p in per}
        row["paired"] = paired_difference([mine[i] for i in ids], [theirs[i] for i in ids])
    return row


def table(results: list[dict]) -> list[dict]:
    shortcuts = {r["seed"]: r for r in results if r["arm"] == "shortcut"}
    return [arm_row(r, shortcuts.get(r["seed"])) for r in results]


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def markdown(rows: list[dict], results: list[dict]) -> str:
    first = results[0] if results else {}
    lines = [
        "## Journey effect (arithmetic chains, SmolLM2-135M)",
        "",
        f"Level {first.get('level')}, {rows[0]['n'] if rows else 0} held-out problems, greedy decoding; trees from the "
        f"phase-1 model ({json.dumps(first.get('trees', {}))}). Δ is the paired difference with the shortcut arm of "
        "the same seed on the same problems (Newcombe 95% interval, exact McNemar p). Backtrack: answers with a "
        "check. Recovery: of answers whose first pass (the steps before the first check) ended wrong, the share "
        "that end right; broke: of first passes that ended right, the share that end wrong; spurious: checks that "
        "recompute a step to the value it already had. Loop: a line written 3+ times; cut: no answer at the cap.",
        "",
        "| arm | seed | accuracy % [95% CI] | Δ vs shortcut (pts) [95% CI] | McNemar p | backtrack % | recovery % "
        "| broke % | spurious checks % | loop % | cut % | tokens/answer | train tokens |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        low, high = row["ci"]
        paired = row["paired"]
        delta = "–" if paired is None else \
            f"{100 * paired.difference:+.1f} [{100 * paired.low:+.1f}, {100 * paired.high:+.1f}]"
        p_value = "–" if paired is None else f"{paired.p_value:.3g}"
        lines.append(
            f"| {row['arm']} | {row['seed']} | {_pct(row['accuracy'])} [{_pct(low)}, {_pct(high)}] | {delta} | "
            f"{p_value} | {_pct(row['backtrack_rate'])} | {_pct(row['recovery_rate'])} | {_pct(row['broke_rate'])} | "
            f"{_pct(row['spurious_check_rate'])} | {_pct(row['loop_rate'])} | "
            f"{_pct(row['cut_rate'])} | {row['mean_tokens']:.0f} | {row['train_tokens'] or '–'} |")
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], out: Path) -> list[Path]:
    """Accuracy vs trial budget K (0 = shortcut) and vs journey share, Wilson error bars, every seed's point."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []
    for name, xs in (("accuracy_vs_k", {"shortcut": 0, "journey-k1": 1, "journey-k2": 2, "journey-k4": 4}),
                     ("accuracy_vs_mix", {"shortcut": 0, "mixed-25": 25, "mixed-50": 50, "mixed-75": 75,
                                          "journey-k2": 100})):
        points = [(xs[r["arm"]], r) for r in rows if r["arm"] in xs]
        if not points:
            continue
        figure, axis = plt.subplots(figsize=(4.5, 3.2))
        for x, row in points:
            low, high = row["ci"]
            axis.errorbar([x], [100 * row["accuracy"]], yerr=[[100 * (row["accuracy"] - low)],
                                                              [100 * (high - row["accuracy"])]],
                          fmt="o", capsize=3, color="C0")
        axis.set_xlabel("trial budget K" if name.endswith("k") else "journey share %")
        axis.set_ylabel("accuracy % (95% Wilson)")
        figure.tight_layout()
        path = out / f"{name}.png"
        figure.savefig(path, dpi=120)
        plt.close(figure)
        made.append(path)
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="eval.journey_effect", description=__doc__.split("\n")[0])
    parser.add_argument("results", type=Path, help="a folder of <arm>-s<seed>.json results files")
    parser.add_argument("--out", type=Path, help="write report.md and the plots here")
    args = parser.parse_args(argv)
    if not args.results.is_dir():
        print(f"error: {args.results}: not a folder of journey-effect results", file=sys.stderr)
        return 2
    results = load_results(args.results)
    if not results:
        print(f"error: {args.results}: no <arm>-s<seed>.json journey-effect results in it", file=sys.stderr)
        return 2
    rows = table(results)
    text = markdown(rows, results)
    print(text)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        plots = plot(rows, args.out)
        text += "".join(f"\n![{p.stem}]({p.name})\n" for p in plots)
        (args.out / "report.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
