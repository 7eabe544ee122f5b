"""Long thoughts out as a Hugging Face dataset: Parquet plus a dataset card carrying every source run's run card.

    python -m training.export runs/demo --out runs/demo-dataset
    python -m training.export runs/ablation runs/tree --out runs/thoughts --push-to-hub ME/long-thoughts --private
    python -m training.export runs/sft-journey --push-to-hub ME/journey-sft    # an SFT/DPO dataset, as written
    python -m training.export --format gguf --gguf-type q8_0 runs/sft-journey/final --out runs/sft.gguf  # a model

Each argument is a run directory, a folder of runs (an ablation) or a records.jsonl file, read by the engine's one
row reader. OUT holds `data/train-00000-of-00001.parquet` and `README.md`, whose `configs:` header makes
`datasets.load_dataset("OUT")` (or the Hub repo) load it. One row per record: flat columns for what people filter
on (`oracle_roles`: the roles the oracle played, [] for a model's data), and the tree, transcript, usage and meta
as JSON strings (see FEATURES); a card built from oracle runs says so first and is tagged `oracle-rehearsal`. An
argument that is an SFT/DPO dataset folder (`OUT/dataset` of training.sft / training.dpo, or that OUT) is already
Parquet with its card: it is only pushed. Rows are decontaminated against the eval sets (`--decontaminate
drop|report|off`, default drop) and deduplicated (problems and long thoughts, `--no-dedup` keeps all) first; the card
counts both. `--push-to-hub` takes the token from HF_TOKEN or `hf auth login`; nothing here writes it.
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
from protocols.contamination import DecontaminationConfig, Item
from protocols.data_checks import check_rows, describe
from protocols.dedup import DedupConfig
from protocols.types import Record, Usage
from synthesis.engine import console_for_errors, guarded, read_rows, run_dirs
from synthesis.engine.rehearsal import record_roles
from training.formats import (DatasetCard, check_repo, dataset_folder, push_dataset, run_cards, run_labels,
                              write_dataset)

log = logging.getLogger("longthought.export")


@dataclass(frozen=True, kw_only=True)
class ExportConfig(DecontaminationConfig, DedupConfig):
    """Where the dataset goes (the runs it reads are the positional arguments)."""

    out: str | None = field(default=None, metadata={
        "help": "folder for the dataset (data/*.parquet and the README.md card); required unless only pushing an "
                "SFT/DPO dataset folder"})
    push_to_hub: str | None = field(default=None, metadata={
        "help": "also upload it to this Hub dataset repo (NAME or OWNER/NAME; token from HF_TOKEN or hf auth login)"})
    private: bool = field(default=False, metadata={"help": "with --push-to-hub: create the repo as private"})
    format: str = field(default="dataset", metadata={
        "help": "dataset: runs as a dataset; gguf: one trained model folder as a GGUF file for llama.cpp "
                "(training.gguf_export), served as gguf/FILE"})
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
        "schema_version": number, "oracle_roles": List(text)})


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
    }


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


def checked_rows(rows: list[dict[str, Any]], config: ExportConfig) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The rows that pass decontamination and deduplication, and the counts (see protocols.data_checks)."""
    items = [Item(row["id"], row["problem"], "\n".join(filter(None, (row["long_thought"], row["shortcut"]))))
             for row in rows]
    kept, checks = check_rows(items, config, config, thoughts=[row["long_thought"] for row in rows],
                              labels=[row["answer"] for row in rows])
    return [rows[index] for index in kept], checks


def export_runs(paths: list[str | Path], out: Path, config: ExportConfig | None = None) -> tuple[Path, int]:
    """Write the records of the runs at `paths` as a dataset folder `out`; returns (out, rows)."""
    config = config or ExportConfig()
    runs = run_dirs(paths)  # the rule every run reader shares
    labels = run_labels(runs)
    # A record written before the oracle mark is judged by its run's manifest.
    rows = [record_row(record, labels[run], record_roles(record.meta, run))
            for run in runs for record in read_rows(run, Record)]
    if not rows:
        raise ValueError(f"{', '.join(map(str, paths))}: no records to export")
    rows, checks = checked_rows(rows, config)
    log.info("%s", describe(checks))
    if not rows:
        raise ValueError(f"{', '.join(map(str, paths))}: every record was dropped by decontamination or "
                         "deduplication (see --decontaminate, --eval-sets, --no-dedup)")
    card = DatasetCard(f"Long thoughts ({', '.join(labels.values())})", "long_thoughts", [str(run) for run in runs],
                       run_cards(runs), {**statistics(rows), **checks},
                       oracle_roles=sorted({role for row in rows for role in row["oracle_roles"]}))
    return write_dataset(rows, out, card, features=features()), len(rows)


def export(inputs: list[str], config: ExportConfig) -> str:
    """Export runs (or take an SFT/DPO dataset folder as it is), push it when asked; returns what was done."""
    if config.format == "gguf":
        from training.gguf_export import export_command

        if config.push_to_hub:
            raise ValueError("--push-to-hub: datasets only; --format gguf writes a local file (--out)")
        return export_command(inputs, config.out, config.gguf_type)
    if config.format != "dataset":
        raise ValueError(f"--format {config.format}: expected dataset or gguf")
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
