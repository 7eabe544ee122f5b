"""Records to TRL datasets: SFT as conversational prompt/completion, DPO as prompt/chosen/rejected.

Prompt/completion rows make TRL compute the loss on the assistant text only. `paired_sft` yields the journey
(long thought) and the shortcut dataset for exactly the same problems, the matched pair behind the report's
"journey beats shortcut" comparison. Datasets are written as Parquet in the layout `datasets` itself pushes to the
Hub, with a dataset card (README.md) carrying the source runs' run cards, so `datasets.load_dataset(FOLDER)`, TRL
and the Hub read them as they are.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from prompts import question_messages
from protocols.rehearsal import CARD_TAG
from protocols.rehearsal import NOTICE as ORACLE_NOTICE
from protocols.rehearsal import describe as describe_oracle
from protocols.rehearsal import manifest_oracle_roles, row_oracle_roles
from protocols.types import Problem, Record
from synthesis.engine import read_rows
from synthesis.engine.run_card import RunCard

Target = Literal["journey", "shortcut", "solution"]
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def _row(problem: Problem, completion: str, **extra: Any) -> dict[str, Any]:
    return {"id": problem.id, "prompt": question_messages(problem.question),
            "completion": [{"role": "assistant", "content": completion}], **extra}


def usable_for_pairing(record: Record) -> bool:
    """Both halves of the matched pair exist: a correct answer with a shortcut and a long thought."""
    return bool(record.correct and record.shortcut and record.long_thought)


def has_real_trial(record: Record) -> bool:
    """The long thought holds a real trial and error, not only the shortcut told at length: a tree search's draft
    narrated at least one wrong branch (meta.trials); another attempt wrote a step or answer judged wrong and went on
    (a backtrack, or a reflection on that wrong step) to its final answer."""
    if record.attempt == "tree_search":
        return int(record.meta.get("trials", 0)) > 0
    return any(node.correct is False and node.kind in ("step", "answer") for node in record.tree.nodes)


@dataclass
class PairSelection:
    """How the matched problems were chosen, for the dataset card (every excluded record is counted, by reason)."""

    records: int = 0
    not_correct_or_incomplete: int = 0  # no correct answer, no shortcut or no long thought
    without_real_trial: int = 0  # a journey identical in substance to its shortcut
    paired: int = 0  # rows (one per problem and attempt) with both a shortcut and a real journey
    paired_problems: int = 0  # distinct problems among them
    selected: int = 0  # rows after --pairs
    selected_problems: int = 0  # problems after --pairs (what --pairs counts)


def select_pairs(records: Iterable[Record], *, require_trial: bool = True, pairs: int | None = None,
                 seed: int = 0) -> tuple[list[Record], PairSelection]:
    """The records whose problem has both halves of the matched pair, and (with `pairs`) those of a seeded sample of N
    problems: the same problems for the journey and the shortcut target. The report compared 327 such problems.
    Counts are per row and per problem (a problem two attempts solved is two rows of one problem)."""
    counts = PairSelection()
    chosen = []
    for record in records:
        counts.records += 1
        if not usable_for_pairing(record):
            counts.not_correct_or_incomplete += 1
        elif require_trial and not has_real_trial(record):
            counts.without_real_trial += 1
        else:
            chosen.append(record)
    counts.paired, counts.paired_problems = len(chosen), len({r.problem_id for r in chosen})
    problems = sorted({r.problem_id for r in chosen})
    if pairs is not None and pairs < len(problems):
        import random

        # N problems, each with all its rows (one per attempt that paired): a problem solved by two attempts is one
        # of the report's 327, not two. Sorted first so the seed and the problems decide, not the reading order.
        drawn = set(random.Random(seed).sample(problems, pairs))
        chosen = sorted((r for r in chosen if r.problem_id in drawn), key=lambda r: (r.problem_id, r.attempt))
    counts.selected, counts.selected_problems = len(chosen), len({r.problem_id for r in chosen})
    return chosen, counts


def paired_sft(records: Iterable[Record]) -> tuple[list[dict], list[dict]]:
    """(journey rows, shortcut rows) for exactly the same problems."""
    usable = [record for record in records if usable_for_pairing(record)]
    journey = [_row(r.problem, r.long_thought, attempt=r.attempt) for r in usable]
    shortcut = [_row(r.problem, r.shortcut, attempt=r.attempt) for r in usable]
    return journey, shortcut


def numbered_solution(solution: str) -> str:
    """A reference solution rewritten as numbered steps (one sentence or paragraph each)."""
    pieces = []
    for paragraph in re.split(r"\n\s*\n", solution.strip()):
        pieces += [piece.strip() for piece in _SENTENCE_BREAK.split(paragraph.replace("\n", " ")) if piece.strip()]
    return "\n".join(f"{index}. {piece}" for index, piece in enumerate(pieces, start=1))


def solution_rows(problems: Iterable[Problem]) -> list[dict]:
    """Phase-1 SFT rows: reference solutions as numbered steps (problems without a solution are skipped)."""
    return [_row(problem, numbered_solution(problem.meta["solution"])) for problem in problems
            if problem.meta.get("solution")]


def dpo_row(problem: Problem, chosen: str, rejected: str) -> dict[str, Any]:
    return {"id": problem.id, "prompt": question_messages(problem.question),
            "chosen": [{"role": "assistant", "content": chosen}],
            "rejected": [{"role": "assistant", "content": rejected}]}


def records_oracle_roles(records: Iterable[Record]) -> list[str]:
    """The roles the oracle played in any of `records`, by their own marks (a card adds its runs' manifests)."""
    return sorted({role for record in records for role in row_oracle_roles(record.meta) or []})


def load_records(run_dirs: Iterable[Path]) -> list[Record]:
    """Every record of the given run directories (a file may also be passed)."""
    return [record for run_dir in run_dirs for record in read_rows(run_dir, Record)]


# The layout `datasets`' own push_to_hub writes (data/{split}-{shard:05d}-of-{shards:05d}.parquet), named in the
# card's `configs:` header, so `load_dataset(FOLDER)` reads the folder by itself and the Hub shows the same files.
DATA_FILE = "data/train-00000-of-00001.parquet"
DATA_FILES = [{"split": "train", "path": "data/train-*"}]
COLUMNS = {"sft": "Rows are in TRL's conversational format (`prompt`, `completion`, plus `id`)",
           "dpo": "Rows are in TRL's conversational preference format (`prompt`, `chosen`, `rejected`, plus `id`)",
           "prm": "One row per line of reasoning, in TRL's stepwise-supervision format (`prompt`, `completions` = "
                  "the steps, `labels` = one boolean per step) or Math-Shepherd's (`input`, `label`: `ки` / `+` / "
                  "`-`), with `sources`: who labelled each step",
           "long_thoughts": "One row per problem per attempt: the long thought, the shortcut, the final answer and "
                            "whether it is correct; `tree`, `turns`, `usage`, `meta` and `step_labels` (each step's "
                            "label and who said so) are JSON strings"}
# What a run's manifest.json tells a reader of the data; its `command` (argv, local paths) and the per-process
# usage are left out. No API key is in either file: configs hold only the *name* of a key's environment variable.
MANIFEST_FIELDS = ("attempt", "status", "git_sha", "versions", "models", "oracle_roles", "router", "seed",
                   "prompt_hashes", "problems", "usage", "updated_at")


@dataclass
class DatasetCard:
    """What a dataset was built from: its sources, the run cards of the source runs, and counts."""

    name: str
    kind: Literal["sft", "dpo", "long_thoughts", "prm"]
    sources: list[str] = field(default_factory=list)
    runs: dict[str, Any] = field(default_factory=dict)  # run label -> {config, manifest} (see run_cards)
    stats: dict[str, Any] = field(default_factory=dict)
    oracle_roles: list[str] = field(default_factory=list)  # roles the oracle played in the rows (their meta marks)

    def oracle(self) -> list[str]:
        """Every role the oracle played: the rows' marks and the source runs' manifests (older rows have no mark)."""
        runs = [manifest_oracle_roles((card or {}).get("manifest")) for card in self.runs.values()]
        return sorted({*self.oracle_roles, *(role for roles in runs for role in roles)})

    def render(self, rows: int, info: dict[str, Any] | None = None) -> str:
        """The card's text; `info` is the `dataset_info:` YAML (schema and sizes) that the Hub's own cards carry."""
        oracle = self.oracle()
        header = {"pretty_name": self.name, "task_categories": ["text-generation"],
                  "tags": ["longthought", self.kind, *([CARD_TAG] if oracle else [])],
                  **({"dataset_info": info} if info else {}),
                  "configs": [{"config_name": "default", "data_files": DATA_FILES}]}
        # Rehearsal data says what it is, first thing under the title (protocols.rehearsal).
        warning = f"> **⚠ {describe_oracle(oracle)}: {ORACLE_NOTICE}.**\n\n" if oracle else ""
        return (f"---\n{yaml.safe_dump(header, sort_keys=False)}---\n\n# {self.name}\n\n{warning}"
                f"{rows} rows built by longthought. {COLUMNS[self.kind]}. Load them with "
                "`datasets.load_dataset(FOLDER_OR_REPO)`.\n\n"
                f"## Sources\n\n" + "\n".join(f"- `{source}`" for source in self.sources) + "\n\n"
                f"## Statistics\n\n```json\n{json.dumps(self.stats, indent=2)}\n```\n\n"
                "## Run cards\n\nEach source run's `config.yaml` (every setting) and the essentials of its "
                "`manifest.json` (versions, git sha, model strings, prompt hashes, seed, usage).\n\n"
                f"```yaml\n{yaml.safe_dump(self.runs, sort_keys=False)}```\n")


def write_dataset(rows: list[dict], directory: Path, card: DatasetCard, features: Any = None) -> Path:
    """Write the rows as Parquet (DATA_FILE) with the dataset card `README.md` into `directory`, a folder that
    `datasets.load_dataset(str(directory))` loads as it is; returns `directory`."""
    import datasets
    from datasets.info import DatasetInfo
    from datasets.splits import SplitDict, SplitInfo

    data = directory / DATA_FILE
    data.parent.mkdir(parents=True, exist_ok=True)
    dataset = datasets.Dataset.from_list(rows, features=features)
    dataset.to_parquet(str(data))
    # The sizes and schema, as push_to_hub writes them. They also go into datasets' cache key for the folder, which
    # otherwise is only the folder's name and `configs:` (measured, datasets 5.2): two OUT/dataset folders would
    # share one cache entry. The trainers read through load_train, keyed by path and mtime, whatever the card says.
    info = DatasetInfo(features=dataset.features, download_size=data.stat().st_size, dataset_size=dataset.data.nbytes,
                       splits=SplitDict({"train": SplitInfo(name="train", num_bytes=dataset.data.nbytes,
                                                            num_examples=len(dataset))}))
    (directory / "README.md").write_text(card.render(len(rows), info._to_yaml_dict()), encoding="utf-8")
    return directory


def load_train(directory: Path) -> Any:
    """The train split of a dataset folder written by write_dataset, as a `datasets.Dataset`: its Parquet files by
    path (cached by path and mtime, so a rewritten or another folder of the same name is never a stale cache hit)."""
    import datasets

    files = sorted(str(path) for path in (Path(directory) / "data").glob("train-*.parquet"))
    if not files:
        raise FileNotFoundError(f"{directory}: no data/train-*.parquet (expected a dataset folder)")
    return datasets.load_dataset("parquet", data_files={"train": files}, split="train")


def run_folder(run: Path) -> Path | None:
    """The run directory of a `run_dirs` entry: itself, or the folder of its records.jsonl (a lone file has none)."""
    run = Path(run)
    return run if run.is_dir() else run.parent if run.name == "records.jsonl" else None


def run_labels(runs: Iterable[Path]) -> dict[Path, str]:
    """A short name per run for the data and the card: its folder name, or the path as given when names collide
    (two ablations both holding `debate`)."""
    runs = [Path(run) for run in runs]
    names = {run: (run_folder(run) or run.with_suffix("")).name for run in runs}
    return names if len(set(names.values())) == len(names) else {run: str(run) for run in runs}


def run_cards(runs: Iterable[Path]) -> dict[str, Any]:
    """The run card of each source run, by run label: its config.yaml and its manifest.json's essentials (None for
    a file the run lacks; a file that is no card stops the build with one line naming it)."""
    cards = {}
    for run, label in run_labels(runs).items():
        folder = run_folder(run)
        card = RunCard(folder) if folder else None
        manifest = card.manifest if card else None
        cards[label] = {"config": card.config if card else None,
                        "manifest": None if manifest is None else {
                            name: value for name, value in manifest.items() if name in MANIFEST_FIELDS}}
    return cards


def dataset_folder(path: Path) -> Path | None:
    """`path` as a dataset folder written here (a card and Parquet data): the folder itself, or a training run's
    OUT/dataset; None otherwise."""
    for folder in (Path(path), Path(path) / "dataset"):
        if (folder / "README.md").is_file() and any((folder / "data").glob("*.parquet")):
            return folder
    return None


def check_repo(repo: str) -> None:
    """One line naming `repo` when it cannot be a Hub repo id (the Hub's own local rules)."""
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(repo)
    except ValueError as error:
        raise ValueError(f"--push-to-hub {repo}: {error}") from None


def push_dataset(directory: Path, repo: str, *, private: bool = False) -> None:
    """Upload a dataset folder to the Hub dataset repo `repo`: the data through `datasets`' push_to_hub, then our card
    (whose run cards the generated one lacks). The token comes from HF_TOKEN or `hf auth login`, never from us."""
    import datasets
    from huggingface_hub import DatasetCard as HubCard

    check_repo(repo)
    datasets.DatasetDict({"train": load_train(directory)}).push_to_hub(repo, private=private)
    HubCard((directory / "README.md").read_text(encoding="utf-8")).push_to_hub(repo, repo_type="dataset")
