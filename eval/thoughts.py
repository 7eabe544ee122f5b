"""What a long thought looks like (the report's Q1): length, lines, reflection and branching words, backtracks.

    python -m eval.thoughts runs/demo runs/tree notes.txt [--group-by attempt|run] [--json OUT.json]

For records (run directories or records.jsonl) and plain text files. Per group: long thoughts, mean tokens,
lines, words per line, counts of the report's keywords and n-grams per 1k tokens, backtracks and reflections
from the trees, and how often a "wait" is followed by an actual change of course (a reflection that changes
nothing is decoration). Each keyword is also split into what the model wrote and what our own render templates
inserted ("Wait, ", "Let me go back to step 2 and redo it."; see eval/template_split.py). Tokens are counted with
litellm's bundled tiktoken encoding (cl100k), offline.
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from eval.template_split import TemplateText, template_text
from protocols.cli import command_parser, parse
from protocols.types import Action, Record, ThoughtTree
from synthesis.engine import console_for_errors, guarded, read_rows, run_dirs

KEYWORDS = ("wait", "alternatively", "therefore", "consider", "if", "possible", "let me")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def keyword_counts(text: str) -> dict[str, int]:
    """Whole-word, case-insensitive counts of each keyword or n-gram ("let me" counts the two-word phrase)."""
    lowered = text.lower()
    return {word: len(re.findall(rf"\b{re.escape(word)}\b", lowered)) for word in KEYWORDS}


def count_tokens(text: str) -> int:
    import litellm  # lazy: agents sets the offline cost-map flag first

    return litellm.token_counter(text=text) if text else 0


def text_wait_changes(text: str) -> tuple[int, int]:
    """(waits followed by a change of course, waits that change nothing) in plain text.

    A paragraph with "wait" changes course when the paragraph after it states a number the paragraph before it
    did not; otherwise it is decoration.
    """
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    changed = decorative = 0
    for position, paragraph in enumerate(paragraphs):
        if not re.search(r"\bwait\b", paragraph, re.IGNORECASE):
            continue
        before = set(_NUMBER.findall(paragraphs[position - 1])) if position else set()
        after = set(_NUMBER.findall(paragraphs[position + 1])) if position + 1 < len(paragraphs) else set()
        if after - before:
            changed += 1
        else:
            decorative += 1
    return changed, decorative


def backtracks(record: Record) -> int:
    """Backtracks in a record's long thought: the DFS draft's excursions for tree search (its pruned nodes are not
    backtracks of the thought), the backtrack actions of the tree for the other attempts."""
    if record.attempt == "tree_search":
        return int(record.meta.get("trials", 0))
    return sum(node.action is Action.BACKTRACK and node.kind != "reflection" for node in record.tree.nodes)


def tree_wait_changes(tree: ThoughtTree) -> tuple[int, int]:
    """(reflections/backtracks after which the next step differs, ones after which it repeats the judged step)."""
    changed = decorative = 0
    for node in tree.nodes:
        if node.action not in (Action.REFLECT, Action.BACKTRACK) or node.kind == "reflection" or node.step is None:
            continue
        later = [other for other in tree.nodes[node.id + 1 :]
                 if other.kind in ("step", "answer") and other.parent != node.id]
        if not later:
            continue
        same = " ".join(later[0].step.text.split()).lower() == " ".join(node.step.text.split()).lower()
        decorative += same
        changed += not same
    return changed, decorative


@dataclass(frozen=True)
class ThoughtMeasure:
    """One long thought's measures; keywords are split into ours (template) and the rest (model-written)."""

    tokens: int
    lines: int
    words: int
    keywords: dict[str, int]
    template_keywords: dict[str, int]
    backtracks: int | None
    reflections: int | None
    wait_changed: int
    wait_decorative: int
    split: str

    @property
    def model_keywords(self) -> dict[str, int]:
        return {word: self.keywords[word] - self.template_keywords[word] for word in self.keywords}


def measure(text: str, record: Record | None = None) -> ThoughtMeasure:
    """Length, lines, keywords (all and template-written), backtracks and waits of one long thought."""
    lines = [line for line in text.splitlines() if line.strip()]
    template = template_text(record) if record is not None else TemplateText("", "none")
    # A tree search's tree is the search, not the thought: its pruned nodes are no "wait" anyone wrote, so its
    # long thought (the DFS draft, rewritten) is read as text, like any text file.
    from_tree = record is not None and record.attempt != "tree_search"
    changed, decorative = tree_wait_changes(record.tree) if from_tree else text_wait_changes(text)
    return ThoughtMeasure(
        tokens=count_tokens(text), lines=len(lines), words=sum(len(line.split()) for line in lines),
        keywords=keyword_counts(text), template_keywords=keyword_counts(template.text),
        backtracks=backtracks(record) if record is not None else None,
        reflections=sum(node.kind == "reflection" for node in record.tree.nodes) if record is not None else None,
        wait_changed=changed, wait_decorative=decorative, split=template.method)


@dataclass
class GroupStats:
    thoughts: int = 0
    tokens: int = 0
    lines: int = 0
    words: int = 0
    keywords: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KEYWORDS, 0))
    template_keywords: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KEYWORDS, 0))
    backtracks: int = 0
    reflections: int = 0
    wait_changed: int = 0
    wait_decorative: int = 0

    def add(self, text: str, record: Record | None = None) -> None:
        self.add_measure(measure(text, record))

    def add_measure(self, one: ThoughtMeasure) -> None:
        self.thoughts += 1
        self.tokens += one.tokens
        self.lines += one.lines
        self.words += one.words
        for word in KEYWORDS:
            self.keywords[word] += one.keywords[word]
            self.template_keywords[word] += one.template_keywords[word]
        self.wait_changed += one.wait_changed
        self.wait_decorative += one.wait_decorative
        self.backtracks += one.backtracks or 0
        self.reflections += one.reflections or 0

    def table_row(self) -> dict[str, float | int | None]:
        per_k = 1000 / self.tokens if self.tokens else 0.0
        waits = self.wait_changed + self.wait_decorative
        return {
            "thoughts": self.thoughts,
            "mean_tokens": round(self.tokens / self.thoughts, 1) if self.thoughts else 0,
            "mean_lines": round(self.lines / self.thoughts, 1) if self.thoughts else 0,
            "words_per_line": round(self.words / self.lines, 1) if self.lines else 0,
            **{f"{word}_per_1k": round(count * per_k, 2) for word, count in self.keywords.items()},
            # The same keywords split: what the model wrote, and what our render templates inserted.
            **{f"{word}_model_per_1k": round((count - self.template_keywords[word]) * per_k, 2)
               for word, count in self.keywords.items()},
            **{f"{word}_template_per_1k": round(count * per_k, 2) for word, count in self.template_keywords.items()},
            "backtracks_per_thought": round(self.backtracks / self.thoughts, 2) if self.thoughts else 0,
            "reflections_per_thought": round(self.reflections / self.thoughts, 2) if self.thoughts else 0,
            "wait_changes_course": round(self.wait_changed / waits, 3) if waits else None,
        }


def analyse(paths: list[Path], group_by: str = "attempt") -> dict[str, dict]:
    """Statistics per group (attempt or run) for run directories, records files and plain text files."""
    groups: dict[str, GroupStats] = defaultdict(GroupStats)
    for path in run_dirs(paths, also=(".txt", ".md")):
        if path.suffix in (".txt", ".md"):
            groups[f"text:{path.name}" if group_by == "run" else "text"].add(path.read_text(encoding="utf-8"))
            continue
        for record in read_rows(path, Record):
            if not record.long_thought:
                continue
            key = record.attempt if group_by == "attempt" else str(path)
            groups[key].add(record.long_thought, record)
    return {name: stats.table_row() | {"raw": asdict(stats)} for name, stats in sorted(groups.items())}


@dataclass(frozen=True)
class ThoughtsConfig:
    """How to group the thoughts and where else to write the table (the paths are the positional arguments)."""

    group_by: Literal["attempt", "run"] = field(default="attempt", metadata={"help": "one column per attempt or run"})
    json: Path | None = field(default=None, metadata={"help": "also write the table as JSON"})


def main(argv: list[str] | None = None) -> int:
    import agents  # noqa: F401 - sets LITELLM_LOCAL_MODEL_COST_MAP before litellm loads

    parser = command_parser("eval.thoughts", (ThoughtsConfig,), __doc__)
    parser.add_argument("paths", nargs="+", type=Path, help="run directories, records.jsonl files or .txt/.md files")
    config, args = parse(parser, argv)
    return guarded(lambda: _print_and_write(args.paths, config), console_for_errors(), saved="nothing was written")


def _print_and_write(paths: list[Path], config: ThoughtsConfig) -> int:
    """The table on the terminal, and in --json as well."""
    from rich.console import Console
    from rich.table import Table

    if config.json is not None and config.json.is_dir():
        raise ValueError(f"--json {config.json}: a folder, expected a file name")
    result = analyse(paths, config.group_by)
    # One column per group, one row per measure: groups are few, measures are many.
    table = Table(title=f"long thoughts by {config.group_by}")
    table.add_column("measure")
    for name in result:
        table.add_column(name, justify="right")
    measures = [key for key in next(iter(result.values()), {}) if key != "raw"]
    for measure in measures:
        table.add_row(measure.replace("_per_1k", " /1k tokens").replace("_", " "),
                      *[str(row[measure]) for row in result.values()])
    Console().print(table)
    if config.json:
        config.json.parent.mkdir(parents=True, exist_ok=True)
        config.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
