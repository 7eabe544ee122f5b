"""How many training problems (or long thoughts) overlap the evaluation sets: word n-grams and near duplicates.

    LONGTHOUGHT_DATA_DIR=../shared/data python -m eval.contamination math_train_12k --against math500
    python -m eval.contamination math_train_12k runs/tree --against math500,math_test,gsm8k_test,processbench \\
        --out runs/contamination

SOURCE is a problem set name (math_train_12k, ...), a problems .jsonl file, or a run (a run directory, a folder of
runs, or a records.jsonl): its questions, and with `--answers` (default) its long thoughts, shortcuts or samples.
One line per eval set: how many source items overlap it, by check (question n-grams, question-with-answer n-grams,
near-duplicate question; see protocols/contamination.py). `--out DIR` writes contamination.json (every count and
some example ids) and contamination.md. Training exports run the same check (`--decontaminate`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.outputs import check_out, write_json_and_markdown
from protocols.cli import command_parser, parse
from protocols.contamination import DEFAULT_EVAL_SETS, DEFAULT_NGRAM, EVAL_SET_NAMES, Item, decontaminate, set_names
from protocols.dedup import NEAR_THRESHOLD
from protocols.problems import PROBLEM_SETS, ProblemSetError, load
from synthesis.engine import console_for_errors, guarded, read_rows, run_dirs
from synthesis.engine.rows import rows_file


@dataclass(frozen=True)
class ContaminationConfig:
    """Which eval sets to check the sources against, and how (the sources are the positional arguments)."""

    against: str = field(default=DEFAULT_EVAL_SETS, metadata={
        "help": f"comma-separated eval sets: {', '.join(EVAL_SET_NAMES)}, or .jsonl paths"})
    n: int = field(default=DEFAULT_NGRAM, metadata={"help": "word n-gram length"})
    near_dup_threshold: float = field(default=NEAR_THRESHOLD, metadata={
        "help": "MinHash Jaccard at which a question is a near duplicate of an eval question"})
    answers: bool = field(default=True, metadata={
        "help": "also check question + answer text (reference solution, long thought, samples) against eval "
                "question + solution; --no-answers checks questions only"})
    out: str | None = field(default=None, metadata={"help": "folder for contamination.json and contamination.md"})
    examples: int = field(default=10, metadata={"help": "example ids kept per eval set in the report"})


def _run_items(path: Path) -> list[Item]:
    """Items of a run's records.jsonl: each row's problem, with its long thought and shortcut, or its samples."""
    items = []
    # The run readers' rule (synthesis.engine.read_rows): a torn last line, from a run still writing or killed
    # mid-line, is left out; a bad complete line is one error naming it.
    for number, row in enumerate(read_rows(path), start=1):
        problem = row.get("problem")
        if not isinstance(problem, dict) or not isinstance(problem.get("question"), str):
            raise ValueError(f"{rows_file(path)}: row {number}: expected a record with a problem (a run's "
                             "records.jsonl)")
        texts = [row.get("long_thought"), row.get("shortcut")]
        texts += [sample.get("text") for sample in row.get("samples") or [] if isinstance(sample, dict)]
        solution = (problem.get("meta") or {}).get("solution")
        answer = "\n".join(text for text in texts if isinstance(text, str) and text) or solution
        items.append(Item(str(problem.get("id", f"{path}/{number}")), problem["question"], answer))
    return items


def source_items(source: str) -> list[Item]:
    """The items of one SOURCE: a problem set, a problems file, or runs."""
    path = Path(source)
    if source in PROBLEM_SETS or (path.is_file() and path.suffix == ".jsonl" and path.name != "records.jsonl"):
        return [Item(p.id, p.question, p.meta.get("solution")) for p in load(source)]
    return [item for run in run_dirs([source]) for item in _run_items(run)]


def check(sources: list[str], config: ContaminationConfig) -> dict[str, Any]:
    """The report: per source, the decontamination counts per eval set."""
    if not set_names(config.against):
        raise ValueError("--against: expected at least one eval set")
    # A named eval set that cannot be loaded here (offline, no data) is reported as not checked; a file the user
    # typed that is not there is a typo, and a report of "0 overlap" against nothing would read as clean.
    for name in set_names(config.against):
        if name not in EVAL_SET_NAMES and not Path(name).is_file():
            raise ValueError(f"--against {name}: no such file (eval sets: {', '.join(EVAL_SET_NAMES)}, or .jsonl paths)")
    if config.n < 1:
        raise ValueError(f"--n: expected >= 1, got {config.n}")
    reports = {}
    for source in sources:
        try:
            items = source_items(source)
        except ProblemSetError as error:
            raise ValueError(str(error)) from None
        if not config.answers:
            items = [Item(item.id, item.question) for item in items]
        _, reports[source] = decontaminate(items, "report", config.against, config.n, config.near_dup_threshold,
                                           examples=config.examples)
    return {"n": config.n, "near_threshold": config.near_dup_threshold, "against": set_names(config.against),
            "answers": config.answers, "sources": reports}


def lines(report: dict[str, Any]) -> list[str]:
    """One line per source and eval set."""
    out = []
    for source, found in report["sources"].items():
        for name, counts in found["eval_sets"].items():
            out.append(f"{source} vs {name}: {counts['contaminated']} of {found['checked']} overlap at n={report['n']} "
                       f"(question {counts['question']}, question+answer {counts['answer']}, near-duplicate "
                       f"{counts['near_duplicate']})")
        out += [f"{source} vs {name}: not checked ({why})" for name, why in found["unavailable"].items()]
    return out


def markdown(report: dict[str, Any]) -> str:
    """The report as a Markdown table, with example ids."""
    text = [f"# Contamination (word {report['n']}-grams, near duplicates at Jaccard >= {report['near_threshold']})\n",
            "| source | eval set | items | overlapping | question | question+answer | near-duplicate |",
            "| --- | --- | --- | --- | --- | --- | --- |"]
    for source, found in report["sources"].items():
        for name, counts in found["eval_sets"].items():
            text.append(f"| `{source}` | {name} | {found['checked']} | {counts['contaminated']} | {counts['question']} "
                        f"| {counts['answer']} | {counts['near_duplicate']} |")
    text.append("\n## Examples (source id: the eval item each check matched)\n")
    for source, found in report["sources"].items():
        for name, counts in found["eval_sets"].items():
            for example in counts["examples"]:
                matched = ", ".join(f"{check} {eval_id}" for check, eval_id in example.items() if check != "id")
                text.append(f"- `{source}` vs {name}: `{example['id']}`: {matched}")
    return "\n".join(text) + "\n"


def main(argv: list[str] | None = None) -> int:
    console = console_for_errors()

    def body() -> int:
        parser = command_parser("eval.contamination", (ContaminationConfig,), __doc__)
        parser.add_argument("sources", nargs="+", help="problem set names, problems .jsonl files, or runs")
        config, args = parse(parser, argv)
        check_out(config.out)
        report = check(args.sources, config)
        for line in lines(report):
            print(line)
        if config.out:
            write_json_and_markdown(config.out, "contamination", report, markdown(report))
        return 0

    return guarded(body, console, saved="nothing was written")


if __name__ == "__main__":
    sys.exit(main())
