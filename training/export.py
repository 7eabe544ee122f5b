"""Long thoughts out as a Hugging Face dataset: Parquet plus a dataset card carrying every source run's run card.

    python -m training.export runs/demo --out runs/demo-dataset
    python -m training.export runs/ablation runs/tree --out runs/thoughts --push-to-hub ME/long-thoughts --private
    python -m training.export runs/sft-journey --push-to-hub ME/journey-sft    # an SFT/DPO dataset, as written
    python -m training.export --format gguf --gguf-type q8_0 runs/sft-journey/final --out runs/sft.gguf  # a model
    python -m training.export runs/tree runs/debate --format prm --out runs/prm         # step-level rows for a PRM
    python -m training.export runs/tree --format prm --prm-style math-shepherd --out runs/prm-shepherd

Each argument is a run directory, a folder of runs (an ablation) or a records.jsonl file, read by the engine's one
row reader. OUT holds `data/train-00000-of-00001.parquet` and `README.md`, whose `configs:` header makes
`datasets.load_dataset("OUT")` (or the Hub repo) load it. One row per record: flat columns for what people filter
on (`oracle_roles`: the roles the oracle played, [] for a model's data), and the tree, transcript, usage and meta
as JSON strings (see FEATURES); a card built from oracle runs says so first and is tagged `oracle-rehearsal`. An
argument that is an SFT/DPO dataset folder (`OUT/dataset` of training.sft / training.dpo, or that OUT) is already
Parquet with its card: it is only pushed. Rows are decontaminated against the eval sets (`--decontaminate
drop|report|off`, default drop) and deduplicated (problems and long thoughts, `--no-dedup` keeps all) first; the card
counts both. `--require-agreement` keeps only records whose final answer both our checker and math-verify accept
(eval.verify), counted in the card. Every row keeps each step's label (correct / wrong / unknown) and who said so (`step_labels`, see
protocols/step_labels.py); `--format prm` writes instead one row per line of reasoning in TRL's stepwise-supervision
shape (`prompt`, `completions` = the steps, `labels` = one boolean per step, plus `sources`), or with `--prm-style
math-shepherd` Math-Shepherd's `input` / `label` texts (`ки` after each step, `+` / `-` in the label), the format the
`hf-prm` scorer reads. `--push-to-hub` takes the token from HF_TOKEN or `hf auth login`; nothing here writes it.
"""

from __future__ import annotations

import json
import logging
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from protocols.cli import command_parser, parse
from protocols.agreement import AgreementConfig, agreeing
from protocols.contamination import DecontaminationConfig, Item
from protocols.data_checks import check_rows, describe
from protocols.dedup import DedupConfig
from protocols.step_labels import prm_paths, shepherd, step_labels
from protocols.types import Record, Usage
from synthesis.engine import console_for_errors, guarded, read_rows, run_dirs
from synthesis.engine.rehearsal import record_roles
from training.formats import (DatasetCard, check_repo, dataset_folder, push_dataset, run_cards, run_labels,
                              write_dataset)

log = logging.getLogger("longthought.export")


@dataclass(frozen=True, kw_only=True)
class ExportConfig(DecontaminationConfig, DedupConfig, AgreementConfig):
    """Where the dataset goes (the runs it reads are the positional arguments)."""

    out: str | None = field(default=None, metadata={
        "help": "folder for the dataset (data/*.parquet and the README.md card); required unless only pushing an "
                "SFT/DPO dataset folder"})
    push_to_hub: str | None = field(default=None, metadata={
        "help": "also upload it to this Hub dataset repo (NAME or OWNER/NAME; token from HF_TOKEN or hf auth login)"})
    private: bool = field(default=False, metadata={"help": "with --push-to-hub: create the repo as private"})
    format: str = field(default="dataset", metadata={
        "help": "dataset: runs as a dataset; prm: step-level rows for a process reward model; gguf: one trained "
                "model folder as a GGUF file for llama.cpp (training.gguf_export), served as gguf/FILE"})
    prm_style: str = field(default="trl", metadata={
        "help": "with --format prm: trl (prompt, completions, labels) or math-shepherd (input, label with ки/+/-)"})
    gguf_type: str = field(default="f16", metadata={"help": "with --format gguf: f16 or q8_0"})


def features() -> Any:
    """The fixed schema, so every export has the same column types whatever its runs hold (a column that is None in
    every row would otherwise be typed `null`, and shards or exports would not concatenate).

    The tree, turns, usage and meta are JSON strings, not nested structs: their fields vary by node kind, attempt and
    role (a missing key would come back as a null field, a different record), and `Record.tree` parses them back
    exactly (`ThoughtTree.model_validate_json(row["tree"])`)."""
    from datasets import Features, List, Value

    text, number = Value("string"), Value("int64")
    return Features({
        "id": text, "problem": text, "answer": text, "solution": text, "source": text, "subject": text, "level": text,
        "attempt": text, "run": text, "long_thought": text, "shortcut": text, "final_answer": text,
        "correct": Value("bool"), "stop_reason": text, "prompt_tokens": number, "completion_tokens": number,
        "total_tokens": number, "cost": Value("float64"), "tree": text, "turns": text, "usage": text, "meta": text,
        "schema_version": number, "oracle_roles": List(text), "step_labels": text})


def prm_features(style: str) -> Any:
    """The PRM rows' fixed schema: TRL's stepwise supervision, or Math-Shepherd's texts."""
    from datasets import Features, List, Value

    text = Value("string")
    common = {"id": text, "attempt": text, "run": text, "leaf": Value("int64"), "sources": List(text),
              "oracle_roles": List(text)}
    if style == "math-shepherd":
        return Features({**common, "input": text, "label": text})
    return Features({**common, "prompt": text, "completions": List(text), "labels": List(Value("bool"))})


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def record_row(record: Record, run: str, oracle_roles: list[str] | None = None) -> dict[str, Any]:
    """One record as a flat dataset row (`run` names the run it came from; `oracle_roles` the roles the oracle
    played, default the record's own mark)."""
    usage = sum(record.usage.values(), Usage())  # cost stays None when any role's price was unknown
    meta = record.problem.meta
    return {
        "id": record.problem_id, "problem": record.problem.question, "answer": record.problem.answer,
        "solution": _text(meta.get("solution")), "source": record.problem.source, "subject": _text(meta.get("subject")),
        "level": _text(meta.get("level")), "attempt": record.attempt, "run": run,
        "long_thought": record.long_thought, "shortcut": record.shortcut, "final_answer": record.final_answer,
        "correct": record.correct, "stop_reason": record.stop_reason, "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens, "total_tokens": usage.total_tokens, "cost": usage.cost,
        "tree": record.tree.model_dump_json(),
        "turns": json.dumps([turn.model_dump(mode="json") for turn in record.turns]),
        "usage": json.dumps({role: totals.model_dump() for role, totals in record.usage.items()}),
        "meta": json.dumps(record.meta), "schema_version": record.schema_version,
        "oracle_roles": oracle_roles if oracle_roles is not None else record.meta.get("oracle_roles") or [],
        # Each step's truth and who said so, as JSON (node, index, label, by, score): PRM data without re-deriving it.
        "step_labels": json.dumps(step_labels(record, oracle_roles)),
    }


def prm_rows(record: Record, run: str, oracle_roles: list[str], style: str) -> list[dict[str, Any]]:
    """The record's lines of reasoning as step-level rows (protocols.step_labels), in `style`."""
    rows = []
    for path in prm_paths(record, oracle_roles):
        common = {"id": record.problem_id, "attempt": record.attempt, "run": run, "leaf": path["leaf"],
                  "sources": path["sources"], "oracle_roles": oracle_roles}
        if style == "math-shepherd":
            rows.append({**common, **shepherd(path)})
        else:
            rows.append({**common, "prompt": path["prompt"], "completions": path["completions"],
                         "labels": path["labels"]})
    return rows


def statistics(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Row counts per run and per attempt, and the correct share per attempt (of all its records), for the card."""
    by_attempt: dict[str, Counter] = {}
    for row in rows:
        counts = by_attempt.setdefault(row["attempt"], Counter())
        counts["records"] += 1
        counts["correct"] += bool(row["correct"])
        counts["long_thoughts"] += bool(row["long_thought"])
    return {"rows": len(rows), "rows_per_run": dict(Counter(row["run"] for row in rows)),
            "attempts": {attempt: {**counts, "correct_share": round(counts["correct"] / counts["records"], 3)}
                         for attempt, counts in sorted(by_attempt.items())}}


def checked_rows(rows: list[dict[str, Any]], config: ExportConfig) -> tuple[list[int], dict[str, Any]]:
    """The indices of the rows that pass decontamination and deduplication, and the counts (protocols.data_checks)."""
    items = [Item(row["id"], row["problem"], "\n".join(filter(None, (row["long_thought"], row["shortcut"]))))
             for row in rows]
    return check_rows(items, config, config, thoughts=[row["long_thought"] for row in rows],
                      labels=[row["answer"] for row in rows])


def export_runs(paths: list[str | Path], out: Path, config: ExportConfig | None = None) -> tuple[Path, int]:
    """Write the records of the runs at `paths` as a dataset folder `out`; returns (out, rows)."""
    config = config or ExportConfig()
    runs = run_dirs(paths)  # the rule every run reader shares
    _refuse_out_among(out, runs)
    labels = run_labels(runs)
    # A record written before the oracle mark is judged by its run's manifest.
    records = [(run, record) for run in runs for record in read_rows(run, Record)]
    rows = [record_row(record, labels[run], record_roles(record.meta, run)) for run, record in records]
    if not rows:
        raise ValueError(f"{', '.join(map(str, paths))}: no records to export")
    kept, checks = checked_rows(rows, config)
    rows, records = [rows[index] for index in kept], [records[index] for index in kept]
    log.info("%s", describe(checks))
    if config.require_agreement:  # a second verifier: a checker false positive must not become training data
        kept, checks["agreement"] = agreeing([row["answer"] for row in rows], [row["final_answer"] for row in rows])
        rows, records = [rows[index] for index in kept], [records[index] for index in kept]
        log.info("--require-agreement: %d of %d records accepted by both checkers", len(rows),
                 checks["agreement"]["checked"])
    if not rows:
        raise ValueError(f"{', '.join(map(str, paths))}: every record was dropped by decontamination, "
                         "deduplication or --require-agreement (see --decontaminate, --eval-sets, --no-dedup)")
    stats = {**statistics(rows), **checks}
    oracle = sorted({role for row in rows for role in row["oracle_roles"]})
    sources = [str(run) for run in runs]
    if config.format == "prm":
        steps = [step for (run, record), row in zip(records, rows, strict=True)
                 for step in prm_rows(record, labels[run], row["oracle_roles"], config.prm_style)]
        if not steps:
            raise ValueError(f"{', '.join(map(str, paths))}: no step carries a label (nothing for a PRM to learn)")
        stats["prm"] = prm_statistics(rows, steps, config.prm_style)
        card = DatasetCard(f"PRM steps ({', '.join(labels.values())})", "prm", sources, run_cards(runs), stats,
                           oracle_roles=oracle)
        return write_dataset(steps, out, card, features=prm_features(config.prm_style)), len(steps)
    card = DatasetCard(f"Long thoughts ({', '.join(labels.values())})", "long_thoughts", sources, run_cards(runs),
                       stats, oracle_roles=oracle)
    return write_dataset(rows, out, card, features=features()), len(rows)


def _refuse_out_among(out: Path, runs: list[Path]) -> None:
    """A dataset folder written into a run (or around one) makes it read as a dataset: no later export could take
    the run again."""
    target = out.resolve()
    for run in runs:
        folder = (run.parent if run.is_file() else run).resolve()
        if target == folder or folder in target.parents or target in folder.parents:
            raise ValueError(f"--out {out}: the run {run} is there; choose a folder of the dataset's own")


def prm_statistics(rows: list[dict[str, Any]], steps: list[dict[str, Any]], style: str) -> dict[str, Any]:
    """For the card: lines of reasoning, labelled steps by label and by who said so, steps left unlabelled."""
    labels = [label for row in rows for label in json.loads(row["step_labels"])]
    return {"style": style, "lines": len(steps), "steps": len(labels),
            "labels": dict(Counter(label["label"] for label in labels)),
            "by": dict(Counter(str(label["by"]) for label in labels if label["by"]))}


def export(inputs: list[str], config: ExportConfig) -> str:
    """Export runs (or take an SFT/DPO dataset folder as it is), push it when asked; returns what was done."""
    if config.format == "gguf":
        from training.gguf_export import export_command

        if config.push_to_hub:
            raise ValueError("--push-to-hub: datasets only; --format gguf writes a local file (--out)")
        return export_command(inputs, config.out, config.gguf_type)
    if config.format not in ("dataset", "prm"):
        raise ValueError(f"--format {config.format}: expected dataset, prm or gguf")
    if config.prm_style not in ("trl", "math-shepherd"):
        raise ValueError(f"--prm-style {config.prm_style}: expected trl or math-shepherd")
    if config.private and not config.push_to_hub:
        raise ValueError("--private: only with --push-to-hub REPO (a local folder has no visibility)")
    if config.push_to_hub:
        check_repo(config.push_to_hub)  # before any work: a typo in the repo must not cost an export
    folders = [folder for folder in map(dataset_folder, inputs) if folder]
    if folders:
        if len(inputs) > 1 or not config.push_to_hub:
            raise ValueError(f"{inputs[0] if len(inputs) == 1 else ' '.join(inputs)}: an SFT/DPO dataset folder is "
                             "already a dataset; pass it alone, with --push-to-hub REPO")
        directory, done = folders[0], f"dataset {folders[0]}"
    else:
        if not config.out:
            raise ValueError("--out is required (the folder for the dataset)")
        directory, rows = export_runs(inputs, Path(config.out), config)
        done = f"wrote {rows} rows to {directory}"
    if config.push_to_hub:
        push_dataset(directory, config.push_to_hub, private=config.private)
        done += f"; pushed to https://huggingface.co/datasets/{config.push_to_hub}"
    return done


def main(argv: list[str] | None = None) -> int:
    import datasets

    datasets.disable_progress_bars()  # one line of outcome, not a bar per Parquet write
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("longthought").setLevel(logging.INFO)  # the decontamination and deduplication counts
    console = console_for_errors()

    def body() -> int:
        parser = command_parser("training.export", (ExportConfig,), __doc__)
        parser.add_argument("inputs", nargs="+", help="run directories, folders of runs, records.jsonl files, or one "
                                                      "SFT/DPO dataset folder")
        config, args = parse(parser, argv)
        console.print(export(args.inputs, config), markup=False, highlight=False)
        return 0

    return guarded(body, console, saved="the dataset folder may be incomplete")


if __name__ == "__main__":
    sys.exit(main())
