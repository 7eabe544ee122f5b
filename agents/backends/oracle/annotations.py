"""Human-style annotations (attempt 4's Markdown format) written by the oracle: one wrong attempt, then the fix.

    python -m agents.oracle.annotations --problems math500 --limit 20 --out runs/oracle-annotations

A rehearsal of attempt 4 without annotators: each file holds the reference steps with one of them replaced by a
wrong variant, a first-person reflection saying what went wrong, a `## correction to N` (N = the wrong step)
with the rest of the reference, and the final answer.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from agents.backends.oracle.reference import reference_for, seeded, wrong_variant
from protocols.cli import command_parser, parse
from protocols.types import Problem


def annotation_text(problem: Problem, source: str, seed: int = 0) -> str | None:
    """The Markdown annotation of `problem`, or None when it has no reference solution."""
    reference = reference_for(problem)
    if reference is None:
        return None
    bodies = list(reference.bodies)
    rng = seeded(problem.id, seed, "annotation")
    # Prefer a slip in the working; a one-step solution can only get its final answer wrong.
    candidates = [index for index in range(1, len(bodies)) if wrong_variant(reference, index, rng) is not None]
    wrong_at = rng.choice(candidates) if candidates else len(bodies)
    variant, slip = wrong_variant(reference, wrong_at, seeded(problem.id, seed, wrong_at))
    lines = [f"# problem: {problem.id}", f"# source: {source}", "", "## attempt", *bodies[: wrong_at - 1], variant,
             "", "## reflection", slip.reason(), "", f"## correction to {wrong_at}", *bodies[wrong_at - 1:],
             "", "## final", f"\\boxed{{{reference.answer}}}", ""]
    return "\n".join(lines)


def file_name(problem_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", problem_id.removeprefix("test/").removesuffix(".json")).strip("-") + ".md"


def write_annotations(problems: list[Problem], source: str, out: Path, seed: int = 0) -> list[Path]:
    """One annotation file per problem that can have one; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for problem in problems:
        text = annotation_text(problem, source, seed)
        if text is not None:
            path = out / file_name(problem.id)
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written


@dataclass(frozen=True)
class AnnotationsConfig:
    """Which problems get an annotation, where the files go, and the seed of the injected slips."""

    problems: str = field(metadata={"help": "problem set with reference solutions"})
    out: Path = field(metadata={"help": "folder for the annotation files"})
    limit: int | None = field(default=None, metadata={"help": "use only the first N problems"})
    seed: int = field(default=0, metadata={"help": "seed of the wrong step and its variant"})


def main(argv: list[str] | None = None) -> int:
    from protocols.problems import ProblemSetError, load

    (config,) = parse(command_parser("agents.oracle.annotations", (AnnotationsConfig,), __doc__), argv)
    try:
        problems = load(config.problems, limit=config.limit)
    except ProblemSetError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    written = write_annotations(problems, config.problems, config.out, config.seed)
    print(f"wrote {len(written)} annotation(s) to {config.out} ({len(problems) - len(written)} problems had none)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
