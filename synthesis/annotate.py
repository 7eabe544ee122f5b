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

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.text import Text

from agents.llm import DEFAULT_MODEL, LLMClient
from prompts import render
from protocols.annotation import Annotation, Issue, parse_file, render_draft, to_tree
from protocols.answers import equivalent
from protocols.problems import ProblemSetError, load
from protocols.render import path_text
from protocols.types import Problem, Record, StopReason, Turn
from synthesis.engine import RunConfig, RunError, Task, console_for_errors, guarded, report_summary, run
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
    return usable, issues


def command_validate(directory: Path, console: Console) -> int:
    files = _annotation_files(directory)
    usable, issues = check(files)
    for issue in issues:
        console.print(Text(str(issue), style="red" if issue.severity == "error" else "yellow"))
    errors = sum(issue.severity == "error" for issue in issues)
    console.print(f"{len(files)} file(s): {len(usable)} valid, {errors} error(s), {len(issues) - errors} warning(s)")
    return 1 if errors else 0


@dataclass(frozen=True)
class ExpandConfig:
    """The expanding model."""

    model: str = field(default=DEFAULT_MODEL, metadata={"help": "litellm model that expands the annotations"})
    api_base: str | None = None
    api_key_env: str | None = None  # the name of the variable holding the key; recorded, never the key
    temperature: float = 0.7
    max_tokens: int = 2048
    timeout: float = 300.0

    def __post_init__(self) -> None:
        check_sampling(self, ("temperature",), ("max_tokens",))


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
        temperature=config.temperature, max_tokens=config.max_tokens, role="expander",
        max_chars=max(llm.config.max_reply_chars, 8 * config.max_tokens),
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
    return {"expander": LLMClient(model=config.model, api_base=config.api_base, api_key_env=config.api_key_env,
                                  timeout=config.timeout, **llm_kwargs)}


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
    return [Annotated(*pair) for pair in usable]


def command_expand(directory: Path, config: ExpandConfig, run_config: RunConfig, console: Console,
                   ids: list[str] | None = None) -> int:
    summary = run(TASK, run_config, config, console, problems=expansion_items(directory, ids))
    return report_summary(summary, console)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m synthesis.annotate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    new = commands.add_parser("new", help="write one annotation template per problem")
    new.add_argument("--problems", required=True, help="problem set name or .jsonl path")
    new.add_argument("--ids", nargs="*", help="problem ids (default: all, or the first --limit)")
    new.add_argument("--limit", type=int, default=None)
    new.add_argument("--out", type=Path, required=True)
    validate = commands.add_parser("validate", help="report every problem of the annotations, with file and line")
    validate.add_argument("directory", type=Path)
    expand = commands.add_parser("expand", help="expand annotations into long-thought records (resumable run)")
    expand.add_argument("directory", type=Path)
    expand.add_argument("--model", default=DEFAULT_MODEL, help="litellm model string (default: %(default)s)")
    expand.add_argument("--api-base", default=None)
    expand.add_argument("--api-key-env", default=None,
                        help="environment variable holding the API key (the name is recorded, never the key)")
    expand.add_argument("--out", required=True, help="run directory")
    expand.add_argument("--max-tokens", type=int, default=2048, help="max tokens of one expansion")
    expand.add_argument("--temperature", type=float, default=0.7)
    expand.add_argument("--concurrency", type=int, default=4)
    expand.add_argument("--max-concurrency", nargs="+", default=[],
                        help="expansion calls in flight (default: the local server's slots, else 8)")
    expand.add_argument("--no-preflight", action="store_true")
    expand.add_argument("--ids", nargs="*", default=None, help="expand only the annotations of these problem ids")
    expand.add_argument("--router-config", default=None, help="litellm Router YAML whose model names --model may use")
    expand.add_argument("--ray", default=None, help="expand on Ray workers: auto or a cluster ADDRESS")
    expand.add_argument("--ray-workers", type=int, default=None, help="Ray workers (default: one per CPU)")
    args = parser.parse_args(argv)
    console = console_for_errors()

    def body() -> int:
        if args.command == "new":
            return command_new(args.problems, args.ids, args.limit, args.out, console)
        if args.command == "validate":
            return command_validate(args.directory, console)
        config = ExpandConfig(model=args.model, api_base=args.api_base, api_key_env=args.api_key_env,
                              temperature=args.temperature,
                              max_tokens=args.max_tokens)
        run_config = RunConfig(problems=str(args.directory), out=args.out, concurrency=args.concurrency,
                               max_concurrency=args.max_concurrency,
                               preflight=not args.no_preflight, router_config=args.router_config, ray=args.ray,
                               ray_workers=args.ray_workers)
        return command_expand(args.directory, config, run_config, console, args.ids)

    return guarded(body, console, saved="finished records are saved")


if __name__ == "__main__":
    sys.exit(main())
