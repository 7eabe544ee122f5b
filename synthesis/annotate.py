"""Attempt 4, human thought annotation: write short annotations, check them, expand them into long thoughts.

    python -m synthesis.annotate new --problems math500 --ids test/algebra/567.json --out annotations/
    python -m synthesis.annotate validate examples/annotations
    python -m synthesis.annotate expand examples/annotations --out runs/annot

The format (protocols/annotation.py, README): `# problem: ID`, `# source: SET`, then sections `## attempt`,
`## reflection`, `## correction [to N]`, `## note`, `## final`. `expand` asks an LLM for a long thought using the
report's three strategies (finer steps, frequent pauses, an explorer's voice) and checks that every human attempt
and correction survives, in order; an unfaithful expansion is kept with a flag and the human draft is used.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from dataclasses import dataclass, field
from typing import Any
from pathlib import Path

from rich.console import Console
from rich.text import Text

from agents.calls.client import LLMClient
from agents.calls.model_role import client_for, model_role
from prompts import render
from protocols.annotation import Annotation, Issue, parse_file, render_draft, to_tree
from protocols.answers import equivalent
from protocols.problems import ProblemSetError, load
from protocols.render import path_text
from protocols.types import Problem, Record, StopReason, Turn
from synthesis.engine import RunConfig, RunError, Task, console_for_errors, guarded, report_summary, run
from protocols.cli import command_parser
from protocols.cli import parse as parse_configs
from synthesis.episode import check_sampling
from synthesis.rewrite import check_faithful

ATTEMPT = "human_annotation"

TEMPLATE = """# problem: {id}
# source: {source}
> {question}
>
> Gold answer (for you; validate compares your final answer with it): {answer}
>
> Write briefly but completely, in your own words, every attempt, reflection, association and correction, and
> spell out the common sense you would normally skip. One step per line. Lines starting with '>' are ignored.
> Markers: ## attempt (start over from the problem), ## correction (the last step was wrong) or ## correction to N
> (step N was the first wrong step: the lines below replace it and what followed; to 1 starts over), ## reflection (a pause on the last step),
> ## note (common sense for the last step), ## final (the final answer, in \\boxed{{}}).

## attempt

## final
"""


def _file_name(problem_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", problem_id.removeprefix("test/").removesuffix(".json")).strip("-") + ".md"


def command_new(problems: str, ids: list[str] | None, limit: int | None, out: Path, console: Console) -> int:
    """One template per problem; existing files are never overwritten."""
    selected = load(problems)
    if ids:
        by_id = {problem.id: problem for problem in selected}
        missing = [problem_id for problem_id in ids if problem_id not in by_id]
        if missing:
            raise ProblemSetError(f"{problems}: no problem with id {', '.join(missing)}")
        selected = [by_id[problem_id] for problem_id in ids]
    selected = selected[:limit] if limit is not None else selected
    out.mkdir(parents=True, exist_ok=True)
    written = 0
    for problem in selected:
        path = out / _file_name(problem.id)
        if path.exists():
            console.print(f"kept {path} (already exists)")
            continue
        question = problem.question.replace("\n", "\n> ")
        path.write_text(TEMPLATE.format(id=problem.id, source=problems, question=question, answer=problem.answer))
        written += 1
    console.print(f"wrote {written} template(s) to {out}")
    return 0


def _annotation_files(directory: Path) -> list[Path]:
    if directory.is_file():
        return [directory]
    files = sorted(directory.glob("*.md"))
    if not files:
        raise RunError(f"{directory}: no .md annotation files")
    return files


def _problem_for(annotation: Annotation, cache: dict[str, dict[str, Problem]]) -> tuple[Problem | None, Issue | None]:
    if annotation.source is None:
        return None, Issue(annotation.path, annotation.problem_line, "missing '# source: SET' line")
    if annotation.source not in cache:
        try:
            cache[annotation.source] = {problem.id: problem for problem in load(annotation.source)}
        except ProblemSetError as error:
            return None, Issue(annotation.path, annotation.problem_line, f"cannot load source: {error}")
    problem = cache[annotation.source].get(annotation.problem_id)
    if problem is None:
        return None, Issue(annotation.path, annotation.problem_line,
                           f"no problem {annotation.problem_id!r} in {annotation.source}")
    return problem, None


def check(files: list[Path]) -> tuple[list[tuple[Annotation, Problem]], list[Issue]]:
    """Parse and validate annotations; returns the usable ones with their problems, and every issue found."""
    usable, issues, cache = [], [], {}
    for path in files:
        annotation, found = parse_file(path)
        issues += found
        if annotation is None:
            continue
        problem, problem_issue = _problem_for(annotation, cache)
        if problem_issue is not None:
            issues.append(problem_issue)
            continue
        final = annotation.final_answer
        if final is not None and problem.answer is not None and not equivalent(problem.answer, final):
            final_line = next(block.line for block in annotation.blocks if block.marker == "final")
            issues.append(Issue(str(path), final_line, f"final answer {final!r} differs from the gold answer "
                                                       f"{problem.answer!r}", severity="warning"))
        if not any(issue.severity == "error" and issue.path == str(path) for issue in issues):
            usable.append((annotation, problem))
    return _refuse_duplicates(usable, issues)


def _refuse_duplicates(usable: list[tuple[Annotation, Problem]],
                       issues: list[Issue]) -> tuple[list[tuple[Annotation, Problem]], list[Issue]]:
    """A second annotation of a problem is an error naming the first. Records are one per problem per attempt
    (ARCHITECTURE), and the problem id is what a resumed run, the viewer and the exports key on: the second
    expansion either never ran ("already has a record") or would stand beside the first under the same id. Keying
    by (problem, annotation) instead would change that contract for every reader; merging two people's journeys is
    a human's call."""
    first: dict[str, str] = {}
    kept = []
    for annotation, problem in usable:
        if problem.id in first:
            issues.append(Issue(annotation.path, annotation.problem_line,
                                f"problem {problem.id!r} is already annotated in {first[problem.id]}: one annotation "
                                "per problem (merge the two, or expand them from separate folders into separate --out)"))
            continue
        first[problem.id] = annotation.path
        kept.append((annotation, problem))
    return kept, issues


def command_validate(directory: Path, console: Console) -> int:
    files = _annotation_files(directory)
    usable, issues = check(files)
    for issue in issues:
        console.print(Text(str(issue), style="red" if issue.severity == "error" else "yellow"))
    errors = sum(issue.severity == "error" for issue in issues)
    console.print(f"{len(files)} file(s): {len(usable)} valid, {errors} error(s), {len(issues) - errors} warning(s)")
    return 1 if errors else 0


@dataclass(frozen=True)
class ExpandConfig(model_role("", "expander", model_help="litellm model that expands the annotations")):
    """The expanding model."""

    temperature: float = field(default=0.7, metadata={"help": "sampling temperature"})
    expander_max_tokens: int = field(default=2048, metadata={"help": "max tokens of one expansion"})

    def __post_init__(self) -> None:
        super().__post_init__()
        check_sampling(self, ("temperature",), ("expander_max_tokens",))


async def expand_one(annotation: Annotation, problem: Problem, config: ExpandConfig, llm: LLMClient) -> Record:
    """The long thought of one annotation, checked for faithfulness to the human's attempts, reflections,
    corrections and final answer."""
    llm = llm.scoped()
    try:
        return await _expand(annotation, problem, config, llm)
    except Exception:
        llm.discard_cached()  # a retry must ask the model again, not replay the reply that broke this one
        raise


async def _expand(annotation: Annotation, problem: Problem, config: ExpandConfig, llm: LLMClient) -> Record:
    draft = render_draft(annotation)
    # A whole long thought, not one step: the reply cap follows the token cap (a token is rarely over 8 characters).
    completion = await llm.complete(
        [{"role": "user", "content": render("human_annotation/expand", question=problem.question, draft=draft)}],
        temperature=config.temperature, max_tokens=config.expander_max_tokens, role="expander",
        max_chars=max(llm.config.max_reply_chars, 8 * config.expander_max_tokens),
    )
    # Reflections too: an expansion must keep every mistake and why it is wrong, not only the corrections.
    journey = [text for block in annotation.blocks if block.marker in ("attempt", "reflection", "correction")
               for _, text in block.lines]
    faithfulness = check_faithful(journey, completion.text, annotation.final_answer)
    tree = to_tree(annotation)
    final = next((node for node in reversed(tree.nodes) if node.kind == "answer"), None)
    correct = None
    if final is not None and problem.answer is not None:
        final.correct = correct = equivalent(problem.answer, final.answer)
    shortcut = path_text(tree, final) if final is not None else None
    return Record(
        problem_id=problem.id, attempt=ATTEMPT, problem=problem, tree=tree,
        turns=[Turn(role="human", content=Path(annotation.path).read_text(encoding="utf-8")),
               Turn(role="expander", content=completion.text, prompt_tokens=completion.prompt_tokens,
                    completion_tokens=completion.completion_tokens)],
        shortcut=shortcut, long_thought=completion.text if faithfulness.faithful else draft,
        final_answer=final.answer if final else None, correct=correct,
        stop_reason=StopReason.EXPANDED if faithfulness.faithful else StopReason.EXPANSION_UNFAITHFUL,
        usage=dict(llm.usage),
        meta={"annotation": annotation.path, "rewrite_faithful": faithfulness.faithful,
              "rewrite_missing": faithfulness.missing, "rewrite_reason": faithfulness.reason, "draft": draft},
    )


@dataclass(frozen=True)
class Annotated:
    """An annotation with its problem: what an expansion run solves (the engine needs only an `id`)."""

    annotation: Annotation
    problem: Problem

    @property
    def id(self) -> str:
        return self.problem.id


def make_clients(config: ExpandConfig, llm_kwargs: dict) -> dict[str, LLMClient]:
    return {"expander": client_for(config, "", llm_kwargs)}


def make_solver(config: ExpandConfig, clients: dict[str, LLMClient], seed: int):
    return lambda item: expand_one(item.annotation, item.problem, config, clients["expander"])


TASK = Task(ATTEMPT, ExpandConfig, make_clients, make_solver, prompt_folders=("human_annotation",))


def expansion_items(directory: Path, ids: list[str] | None = None) -> list[Annotated]:
    """What an expansion run solves: the annotations in `directory` (those of `ids`, when given) with their problems;
    RunError when any annotation has an error."""
    usable, issues = check(_annotation_files(directory))
    if ids is not None:
        usable = [(annotation, problem) for annotation, problem in usable if problem.id in set(ids)]
    errors = [issue for issue in issues if issue.severity == "error"]
    if errors:
        raise RunError(f"{len(errors)} annotation error(s), first: {errors[0]}; run validate")
    if ids is not None and not usable:
        raise RunError(f"none of the ids {', '.join(ids)} has a valid annotation in {directory}")
    return [Annotated(*pair) for pair in usable]


def command_expand(directory: Path, config: ExpandConfig, run_config: RunConfig, console: Console,
                   ids: list[str] | None = None) -> int:
    items = expansion_items(directory, ids)
    if run_config.limit is not None:
        items = items[: run_config.limit]
    summary = run(TASK, run_config, config, console, problems=items)
    return 0 if summary is None else report_summary(summary, console)  # None: a dry run, already described


@dataclass(frozen=True)
class NewConfig:
    """Which problems get a template, and where the templates go."""

    problems: str = field(metadata={"help": "problem set name or .jsonl path"})
    out: str = field(metadata={"help": "folder of the templates (existing files are never overwritten)"})
    ids: list[str] = field(default_factory=list, metadata={"help": "problem ids (default: all, or the first --limit)"})
    limit: int | None = field(default=None, metadata={"help": "only the first N problems"})


@dataclass(frozen=True)
class ExpandCommandConfig(ExpandConfig):
    """The expanding model, and which annotations of the folder to expand: recorded in the run's config.yaml with
    the model's settings, so a resume with other ids is refused and `--config OUT/config.yaml` selects the same."""

    ids: list[str] | None = field(default=None, metadata={"help": "only the annotations of these problem ids"})


SUBCOMMANDS = {"new": "write one annotation template per problem",
               "validate": "report every problem of the annotations, with file and line",
               "expand": "expand annotations into long-thought records (a resumable run, with every run flag)"}


def _parser(command: str, dataclass_types: tuple[type, ...]) -> Any:
    parser = command_parser(f"synthesis.annotate {command}", dataclass_types, SUBCOMMANDS[command])
    if command in ("validate", "expand"):
        parser.add_argument("directory", type=Path, help="folder of annotation .md files")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    console = console_for_errors()
    if not argv or argv[0] not in SUBCOMMANDS:
        usage = "usage: python -m synthesis.annotate {new,validate,expand} ...\n\n" + "\n".join(
            f"  {name:<9} {text}" for name, text in SUBCOMMANDS.items())
        print(usage if argv[:1] in (["-h"], ["--help"]) else f"{usage}\n\nerror: expected a command first",
              file=sys.stdout if argv[:1] in (["-h"], ["--help"]) else sys.stderr)
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    command, rest = argv[0], argv[1:]

    def body() -> int:
        if command == "new":
            (new,) = parse_configs(_parser(command, (NewConfig,)), rest)
            return command_new(new.problems, new.ids or None, new.limit, Path(new.out), console)
        if command == "validate":
            (where,) = parse_configs(_parser(command, ()), rest)
            return command_validate(where.directory, console)
        # --max-tokens is refused here too: it is --expander-max-tokens now.
        run_config, config, where = parse_configs(_parser(command, (RunConfig, ExpandCommandConfig)), rest)
        run_config = dataclasses.replace(run_config, problems=str(where.directory))
        return command_expand(where.directory, config, run_config, console, config.ids or None)

    return guarded(body, console, saved="finished records are saved")

if __name__ == "__main__":
    sys.exit(main())
