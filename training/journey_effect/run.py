"""Run the journey-effect experiment, stage by stage; every stage resumes from what is on disk.

    python -m training.journey_effect.run --config recipes/journey-effect/ci.yaml --out runs/journey-effect-ci
    python -m training.journey_effect.run --config recipes/journey-effect/full.yaml --out runs/journey-effect \
        --results recipes/journey-effect/results/full

Arms differ only in their phase-2 data: same phase-1 model, same problems, same epochs, batch size and learning rate,
so the same number of optimiser steps. Each finished (arm, seed) writes one self-contained results file (settings,
commit, wall time, device, per-problem correctness and behaviour) into --results, so seeds run at different times or
on different machines aggregate into one report (`python -m eval.journey_effect DIR`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from protocols import arithmetic


@dataclass(frozen=True)
class Size:
    """How big each split and stage is (recipes/journey-effect/ci.yaml, full.yaml); every key is required."""

    phase1_per_level: int
    phase1_epochs: int
    dev_per_level: int
    tree_problems: int
    samples: int
    test_problems: int
    arm_epochs: int
    batch_size: int
    max_new_tokens: int
    main_seeds: tuple[int, ...]
    sweep: tuple[str, ...]


RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "journey-effect"
MAIN_ARMS = ("shortcut", "journey-k2", "mixed-50")
LEARNING_RATE = 5e-5  # ours: the report does not state its SFT learning rates
TEMPERATURE = 1.0  # policy sampling for trees: the model's own distribution
TARGET_ACCURACY = 0.5  # the "near 40-60%": calibrated on the dev split, never on the test split


def read_size(path: Path) -> Size:
    """A size file, refused in one line when a key is missing, unknown or of the wrong type."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f"{path}: cannot read ({error})") from None
    names = [f.name for f in fields(Size)]
    if not isinstance(data, dict) or sorted(data) != sorted(names):
        got = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"{path}: expected exactly the keys {', '.join(names)}; got {got}")
    for name in names:
        wanted = list if name in ("main_seeds", "sweep") else int
        if not isinstance(data[name], wanted) or isinstance(data[name], bool):
            raise ValueError(f"{path}: {name} must be {'a list' if wanted is list else 'an integer'}")
    if not data["main_seeds"]:
        raise ValueError(f"{path}: main_seeds needs at least one seed")
    return Size(**{**data, "main_seeds": tuple(data["main_seeds"]), "sweep": tuple(data["sweep"])})


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return os.environ.get("LONGTHOUGHT_COMMIT", "unknown")


def splits(size: Size, level: int | None = None) -> dict[str, list]:
    """Phase-1 and dev problems over every level; with `level`, the tree and test problems at that level.

    Disjoint by content (no chain twice) and, for the test split, by text: a test question sharing any word 13-gram
    with a training question (phase 1 or trees) is passed over. 13 is the top of the usual 8-13 range (GPT-3's
    decontamination used 13): every question here shares the template's words, and 8-grams of a templated
    question mostly measure the template (at level 1 only 11 of 1,500 candidates share no 8-gram with training).
    """
    out: dict[str, list] = {}
    taken: set[str] = set()
    for name, count in (("phase1", size.phase1_per_level), ("dev", size.dev_per_level)):
        out[name] = []
        for each in arithmetic.LEVELS:
            out[name] += arithmetic.split(name, each, count, seed=0, exclude=taken)
            taken |= {chain.key for _, chain in out[name]}
    if level is None:
        return out
    out["tree"] = arithmetic.split("tree", level, size.tree_problems, seed=0, exclude=taken)
    taken |= {chain.key for _, chain in out["tree"]}
    train_grams = {gram for _, chain in out["phase1"] + out["tree"] for gram in ngrams(chain.question())}
    test = []
    for pid, chain in arithmetic.split("test", level, size.test_problems * 3, seed=0, exclude=taken):
        if len(test) < size.test_problems and not ngrams(chain.question()) & train_grams:
            test.append((pid, chain))
    if len(test) < size.test_problems:
        raise ValueError(f"only {len(test)} test problems at level {level} share no 13-gram with training")
    out["test"] = test
    return out


def ngrams(text: str, n: int = 13) -> set[tuple[str, ...]]:
    words = text.lower().replace(",", " ").replace(".", " ").split()
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def _write_json(path: Path, data) -> None:
    staging = path.with_name(path.name + ".partial")
    staging.write_text(json.dumps(data, indent=1))
    staging.replace(path)  # a file that exists is complete


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="training.journey_effect.run", description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, required=True, help="a size file: recipes/journey-effect/ci.yaml or full.yaml")
    parser.add_argument("--out", type=Path, required=True, help="working folder (models, trees); resumable")
    parser.add_argument("--results", type=Path, help="where each finished arm's results file goes "
                        "(default OUT/results)")
    parser.add_argument("--base", help="base model: a folder or a .gguf (default: the embedded SmolLM2 GGUF)")
    parser.add_argument("--arms", help="comma list to run (default: the main arms at every main seed, then the sweep)")
    parser.add_argument("--deadline", type=float, default=0, help="stop starting new arms after this many seconds")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        size = read_size(args.config)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    out: Path = args.out
    results: Path = args.results or out / "results"
    out.mkdir(parents=True, exist_ok=True)
    results.mkdir(parents=True, exist_ok=True)

    from training.journey_effect import arms, evaluate, trees
    from training.journey_effect import model as lmod

    def log(message: str) -> None:
        line = f"[{time.monotonic() - started:7.1f}s] {message}"
        print(line, flush=True)
        with (out / "run.log").open("a") as handle:
            handle.write(line + "\n")

    base = args.base or lmod.default_base()
    log(f"size {args.config}, device {lmod.device()}, base {base}")
    settings = lambda epochs, seed: lmod.TrainSettings(epochs, size.batch_size, LEARNING_RATE, seed)  # noqa: E731

    # Phase 1: the base model learns the format (and what arithmetic it can) from reference shortcuts.
    phase1_dir = out / "phase1"
    shared = splits(size)
    if not phase1_dir.is_dir():
        lm = lmod.load(base)
        pairs = [(chain.question(), chain.solution()) for _, chain in shared["phase1"]]
        log(f"phase 1: {len(pairs)} reference shortcuts, {size.phase1_epochs} epochs")
        summary = lmod.train(lm, pairs, settings(size.phase1_epochs, 0), log=log)
        lmod.save(lm, phase1_dir)
        _write_json(out / "phase1.json", summary)

    # Calibration: the level whose dev accuracy for the phase-1 model is nearest 50%.
    calibration_file = out / "calibration.json"
    if not calibration_file.is_file():
        lm = lmod.load(str(phase1_dir))
        by_level = evaluate.accuracy_by_level(lm, shared["dev"], size.max_new_tokens)
        level = min(by_level, key=lambda each: (abs(by_level[each] - TARGET_ACCURACY), -each))
        _write_json(calibration_file, {"dev_accuracy": by_level, "level": level})
        log(f"calibration (dev): {by_level} -> level {level}")
    level = json.loads(calibration_file.read_text())["level"]
    problems = splits(size, level)

    # On-policy trees from the phase-1 model.
    trees_file = out / "trees.jsonl"
    if not trees_file.is_file():
        lm = lmod.load(str(phase1_dir))
        grown = trees.grow(lm, problems["tree"], size.samples, TEMPERATURE, seed=0, log=log)
        staging = trees_file.with_name(trees_file.name + ".partial")
        staging.write_text("".join(json.dumps(tree.to_json()) + "\n" for tree in grown))
        staging.replace(trees_file)
    grown = [trees.Tree.from_json(json.loads(line)) for line in trees_file.read_text().splitlines()]
    tree_stats = {
        "trees": len(grown),
        "sampled_children": sum(t.sampled for t in grown),
        "wrong_branches": sum(len(t.wrong) for t in grown),
        "injected_branches": sum(b.injected for t in grown for b in t.wrong),
        "fallback_steps": sum(t.fallback_steps for t in grown),
        "mean_wrong_depth": sum(len(b.lines) for t in grown for b in t.wrong) / max(1, sum(len(t.wrong) for t in grown)),
    }
    _write_json(out / "trees_summary.json", tree_stats)
    log(f"trees: {tree_stats}")

    plan = [("phase1", 0)] + [(arm, seed) for seed in size.main_seeds for arm in MAIN_ARMS] + \
        [(arm, size.main_seeds[0]) for arm in size.sweep]
    if args.arms:
        wanted = set(args.arms.split(","))
        plan = [item for item in plan if item[0] in wanted]
    for arm, seed in plan:
        target = results / f"{arm}-s{seed}.json"
        if target.is_file():
            continue
        if args.deadline and time.monotonic() - started > args.deadline:
            log(f"deadline reached: {arm} seed {seed} and later arms not started (rerun to resume)")
            break
        arm_started = time.monotonic()
        lm = lmod.load(str(phase1_dir))
        data = {}
        if arm != "phase1":
            rows = arms.arm_texts(grown, arm)
            log(f"{arm} seed {seed}: {len(rows)} examples, {sum(u for _, _, u in rows)} wrong branches")
            summary = lmod.train(lm, [(q, s) for q, s, _ in rows], settings(size.arm_epochs, seed), log=log)
            data = {"examples": len(rows), "wrong_branches_used": sum(u for _, _, u in rows),
                    "journey_examples": sum(1 for _, _, u in rows if u), "train": summary,
                    "ids": [t.id for t in grown]}
        scored = evaluate.evaluate(lm, problems["test"], size.max_new_tokens)
        accuracy = sum(r["correct"] for r in scored) / len(scored)
        _write_json(target, {
            "experiment": "journey-effect", "arm": arm, "seed": seed, "size": args.config.stem, "level": level,
            "commit": _commit(), "device": str(lmod.device()), "wall_seconds": round(time.monotonic() - arm_started, 1),
            "settings": {**asdict(size), "learning_rate": LEARNING_RATE, "temperature": TEMPERATURE},
            "trees": tree_stats, "data": data, "accuracy": accuracy, "per_problem": scored})
        log(f"{arm} seed {seed}: accuracy {accuracy:.3f} on {len(scored)} held-out problems")
    log("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
