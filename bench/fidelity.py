"""Fidelity suite: all four attempts through the oracle model on real problems, every data invariant counted.

    LONGTHOUGHT_DATA_DIR=../shared/data .venv/bin/python bench/fidelity.py --problems math500 [--limit N]

Policy `oracle/reference-e30` (about 30% of proposed steps wrong), critic, judge, rewriter and expander
`oracle/reference`. Annotations (attempt 4) are the shipped examples plus one the oracle writes per problem, in our
Markdown format, with one wrong attempt each. Lossy rewrites come from `oracle/reference-lossy`, which drops the
first wrong step; the faithfulness check must reject every one. Prints one table per attempt (eval.fidelity), the
journey figures, the prose checks of every rewrite and expansion (protocols.prose_checks), and the wall time; exits 1 when an invariant fails. Episode limits are raised so that they never bind: a problem
that ends wrong here is a data rule's fault, not a limit's. Runs go to --out (default: a temporary folder).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.calls.client import LLMClient  # noqa: E402
from eval.fidelity import Fidelity, measure_run  # noqa: E402
from protocols.problems import load  # noqa: E402
from protocols.types import Record  # noqa: E402
from synthesis.engine import read_rows  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
POLICY, REFERENCE, LOSSY = "oracle/reference-e30", "oracle/reference", "oracle/reference-lossy"
# Never binding for reference solutions of at most 11 steps with ~30% of them redone once; a step cap that fits the
# longest reference step (about 1,500 characters), so no step is cut (token caps are issue [5/5]'s subject).
LOOP_LIMITS = ["--max-turns", "40", "--max-backtracks", "20", "--max-problem-tokens", "1000000"]
STEP_TOKENS = "1024"


def _run(module: str, argv: list[str]) -> None:
    """A run command in this process (imports once), its progress output swallowed; raises on a failed run."""
    main = __import__(module, fromlist=["main"]).main
    with contextlib.redirect_stderr(io.StringIO()) as errors:
        code = main(argv)
    if code != 0:
        raise SystemExit(f"{module} exited {code}: {errors.getvalue().strip().splitlines()[-1:]}")


def _common(problems: str, limit: int | None, out: Path) -> list[str]:
    return ["--problems", problems, *(["--limit", str(limit)] if limit else []), "--out", str(out),
            "--concurrency", "64", "--no-preflight"]


async def _lossy_rewrites(run: Path, into: Fidelity) -> None:
    """Rewrite every tree-search draft that holds a wrong step with the lossy oracle; each must be rejected."""
    from synthesis.rewrite import rewrite_draft
    from synthesis.traverse import best_leaf, dfs_draft

    lossy = LLMClient(model=LOSSY)
    records = list(read_rows(run, Record))

    async def one(record: Record) -> None:
        leaf = best_leaf(record.tree)
        if record.correct is not True or not record.meta.get("trials"):
            return  # no wrong step in the draft: dropping "the first wrong step" drops nothing
        draft = dfs_draft(record.tree, leaf, trials_per_node=record.meta["trials_per_node"], seed=record.meta["seed"])
        rewrite = await rewrite_draft(lossy, record.problem.question, draft.text, draft.anchored_texts(record.tree),
                                      final_answer=leaf.answer)
        into.lossy += 1
        into.lossy_rejected += not rewrite.faithful
        if rewrite.faithful:
            into.note("lossy rewrite accepted", record.problem_id)

    await asyncio.gather(*(one(record) for record in records))


def _lossy_expansions(lossy_run: Path, into: Fidelity) -> None:
    for record in read_rows(lossy_run, Record):
        into.lossy += 1
        into.lossy_rejected += record.meta.get("rewrite_faithful") is False
        if record.meta.get("rewrite_faithful") is not False:
            into.note("lossy expansion accepted", record.problem_id)


def duplicate_siblings(record: Record) -> int:
    """Pairs of sibling steps that say the same thing (they must have been merged)."""
    from synthesis.tree_search import same_step

    pairs = 0
    for node in record.tree.nodes:
        texts = [record.tree.nodes[child].step.text for child in node.children if record.tree.nodes[child].step]
        pairs += sum(same_step(a, b) for position, a in enumerate(texts) for b in texts[position + 1:])
    return pairs


def journeys(out: Path) -> dict[str, dict[str, str]]:
    """The journey figures of issue 24 per attempt: errors, their propagation and value check, late backtracks,
    wrong-branch depth, answer leaks, doubled words and LaTeX outside delimiters, duplicate siblings."""
    from agents.backends.oracle.audit import audit

    table = {}
    for attempt in ("debate", "critique_loop", "tree_search"):
        records = list(read_rows(out / attempt, Record))
        audits = [audit(record) for record in records]
        errors = sum(a.errors for a in audits)
        backtracks = sum(a.backtracks for a in audits)
        depths = [depth for a in audits for depth in a.branch_depths]
        share = lambda part, whole: f"{part / whole:.0%} ({part}/{whole})" if whole else "-"  # noqa: E731
        table[attempt] = {
            "records": str(len(records)),
            "records with >= 1 error": share(sum(a.errors > 0 for a in audits), len(records)),
            "errors carried >= 2 steps": share(sum(a.propagated for a in audits), errors),
            "backtracks to an earlier step": share(sum(a.earlier_backtracks for a in audits), backtracks),
            "mean wrong-branch depth": f"{sum(depths) / len(depths):.2f} ({len(depths)} branches)" if depths else "-",
            "wrong steps wrong by value": share(sum(a.verified for a in audits), errors),
            "answer leaks": str(sum(len(a.leaks) for a in audits)),
            "doubled words": str(sum(len(a.doubled) for a in audits)),
            "LaTeX outside delimiters": str(sum(len(a.latex_outside) for a in audits)),
            "duplicate sibling pairs": str(sum(duplicate_siblings(record) for record in records)),
        }
    return table


def prose(out: Path) -> dict[str, dict[str, str]]:
    """What the prose checks find in the text each rewriter or expander wrote (tree-search rewrites, annotation
    expansions) and, for comparison, in the rendered long thoughts of the loops."""
    from agents.backends.oracle.audit import audit_prose

    table = {}
    for name, label in (("tree_search", "rewrites"), ("human_annotation", "expansions"),
                        ("human_annotation_examples", "expansions (examples)"), ("debate", "debate (rendered)"),
                        ("critique_loop", "critique loop (rendered)")):
        if not (out / name / "records.jsonl").exists():
            continue
        audits = [audit_prose(record) for record in read_rows(out / name, Record)]
        table[label] = {
            "texts": str(len(audits)),
            "doubled words": str(sum(len(a.doubled) for a in audits)),
            "LaTeX outside delimiters": str(sum(len(a.latex_outside) for a in audits)),
            "stutters (stacked or lower-cased openers)": str(sum(len(a.stutters) for a in audits)),
            "texts calling > 1 answer final": str(sum(a.repeated_finals for a in audits)),
        }
    return table


def run_suite(problems: str, limit: int | None, out: Path, journeys_only: bool = False) -> dict[str, Fidelity]:
    """Run the four attempts into `out` and measure them; returns one Fidelity per attempt."""
    from agents.backends.oracle.annotations import write_annotations

    selected = load(problems, limit=limit)
    common = lambda name: _common(problems, limit, out / name)  # noqa: E731
    _run("synthesis.debate", [*common("debate"), "--policy-model", POLICY, "--critic-model", REFERENCE, *LOOP_LIMITS,
                              "--policy-max-tokens", STEP_TOKENS])
    _run("synthesis.critique_loop", [*common("critique_loop"), "--model", POLICY, *LOOP_LIMITS,
                                     "--policy-max-tokens", STEP_TOKENS])
    _run("synthesis.tree_search", [*common("tree_search"), "--policy-model", POLICY, "--scorer", "llm-judge",
                                   "--scorer-model", REFERENCE, "--rewrite-model", REFERENCE, "--width", "3",
                                   "--depth", "12", "--beam", "3", "--policy-max-tokens", STEP_TOKENS])
    if journeys_only:
        return {name: measure_run(out / name, len(selected)) for name in ("debate", "critique_loop", "tree_search")}
    # The oracle's annotations (steps comparable with the reference) and the shipped, person-written examples.
    written = write_annotations(selected, problems, out / "annotations")
    examples = REPO / "examples" / "annotations"
    for name, folder, model in (("human_annotation", out / "annotations", REFERENCE),
                                ("human_annotation_lossy", out / "annotations", LOSSY),
                                ("human_annotation_examples", examples, REFERENCE)):
        _run("synthesis.annotate", ["expand", str(folder), "--model", model, "--out", str(out / name),
                                    "--concurrency", "64", "--no-preflight"])
    results = {name: measure_run(out / name, len(selected)) for name in ("debate", "critique_loop", "tree_search")}
    results["human_annotation"] = measure_run(out / "human_annotation", len(written)) + measure_run(
        out / "human_annotation_examples", len(list(examples.glob("*.md"))), steps=False)
    asyncio.run(_lossy_rewrites(out / "tree_search", results["tree_search"]))
    _lossy_expansions(out / "human_annotation_lossy", results["human_annotation"])
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--problems", default="math500", help="a problem set with reference solutions")
    parser.add_argument("--limit", type=int, default=None, help="only the first N problems")
    parser.add_argument("--out", type=Path, default=None, help="keep the runs here (default: a temporary folder)")
    parser.add_argument("--journeys-only", action="store_true",
                        help="run only the three attempts the journey figures need (no annotations, no lossy runs)")
    args = parser.parse_args(argv)
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(120, Console().width))
    out = args.out or Path(tempfile.mkdtemp(prefix="fidelity-"))
    if args.out and any(out.iterdir() if out.exists() else []):
        console.print(f"error: {out} is not empty (the suite measures fresh runs)", style="red")
        return 2
    started = time.perf_counter()
    try:
        results = run_suite(args.problems, args.limit, out, args.journeys_only)
        figures = journeys(out)
        texts = prose(out)
    finally:
        if args.out is None:
            shutil.rmtree(out, ignore_errors=True)
    wall = time.perf_counter() - started
    table = Table("invariant", *results, title=f"fidelity on {args.problems}"
                  + (f" (first {args.limit})" if args.limit else "") + f", oracle policy {POLICY}")
    columns = [dict(result.rows()) for result in results.values()]
    for name in columns[0]:
        table.add_row(name, *(column[name] for column in columns))
    console.print(table)
    journey_table = Table("journey", *figures, title=f"journeys on {args.problems} (issue 24's figures)")
    for name in next(iter(figures.values())):
        journey_table.add_row(name, *(column[name] for column in figures.values()))
    console.print(journey_table)
    prose_table = Table("prose check", *texts, title=f"prose on {args.problems} (what rewriters and expanders wrote)")
    for name in next(iter(texts.values())):
        prose_table.add_row(name, *(column[name] for column in texts.values()))
    console.print(prose_table)
    failed = {attempt: result.examples for attempt, result in results.items() if not result.holds()}
    for attempt, examples in failed.items():
        console.print(f"{attempt}: invariants failed, first problems: {examples}", style="red")
    console.print(f"wall time {wall:.1f} s for all four attempts ({os.cpu_count()} CPUs)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
