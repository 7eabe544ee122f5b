"""Human thought annotations (attempt 4): a Markdown format a person writes quickly, read into the common tree.

    # problem: test/algebra/567.json
    # source: math500
    ## attempt
    Square both sides: (5x-1)^2 = (x+3)^2.
    So 24x^2 - 16x - 8 = 0, x = 1 or x = -1/3.
    ## reflection
    Squaring can add roots; I should check both.
    ## correction to 2
    Check x = -1/3: |5(-1/3)-1| = 8/3 and -1/3+3 = 8/3. Both work.
    ## note
    The largest of the roots is asked for.
    ## final
    \\boxed{1}

Every non-empty line under `## attempt` or `## correction` is one step. `## attempt` starts over from the
problem (the previous attempt becomes an abandoned branch); `## correction` backtracks: by default the last step
was wrong; `## correction to N` says step N was the first wrong step (as a critic's "backtrack to N" does), so the
lines below replace steps N, N+1, ... and `to 1` starts over; `## reflection` is a pause
that hangs a reflection on the last step; `## note` attaches common sense to the last step; `## final` holds the
final answer. Lines starting with `>` are the template's explanations and are ignored.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

from protocols.answers import extract_answer
from protocols.types import Action, Step, ThoughtNode, ThoughtTree

MARKERS = ("attempt", "reflection", "correction", "note", "final")
_HEADING = re.compile(r"^##\s+(\w+)(?:\s+to\s+(\d+))?\s*$", re.IGNORECASE)
_PROBLEM = re.compile(r"^#\s+problem:\s*(\S+)\s*$", re.IGNORECASE)
_SOURCE = re.compile(r"^#\s+source:\s*(\S+)\s*$", re.IGNORECASE)
# A person writes tens of lines (the report's examples fit on a page); a file past these caps is a mistake (a log or
# a dump saved as .md) whose expansion prompt no model would take, so it is refused in one line before it is read.
MAX_ANNOTATION_BYTES = 1_000_000
MAX_ANNOTATION_LINES = 10_000


@dataclass(frozen=True)
class Block:
    """One marked section: its marker, the step to return to (corrections), its lines and where it starts."""

    marker: str
    line: int
    lines: list[tuple[int, str]]
    target: int | None = None

    @property
    def text(self) -> str:
        return "\n".join(text for _, text in self.lines)


@dataclass
class Annotation:
    path: str
    problem_id: str
    problem_line: int
    source: str | None = None
    blocks: list[Block] = field(default_factory=list)

    @property
    def final_answer(self) -> str | None:
        finals = [block for block in self.blocks if block.marker == "final"]
        if not finals or not finals[-1].lines:
            return None
        text = finals[-1].text.strip()
        return extract_answer(text) or text


@dataclass(frozen=True)
class Issue:
    path: str
    line: int
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.severity}: {self.message}"


def parse(text: str, path: str = "<annotation>") -> tuple[Annotation | None, list[Issue]]:
    """Read an annotation; returns it (None when unusable) and every problem found, each with its line."""
    issues: list[Issue] = []
    problem_id = source = None
    problem_line = 0
    blocks: list[Block] = []
    current: tuple[str, int, int | None, list[tuple[int, str]]] | None = None
    misspelt: set[str | None] = set()  # the markers that misspelt headings most likely meant
    swallowing = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        if line.lstrip().startswith(">"):
            continue
        problem = _PROBLEM.match(line)
        if problem:
            problem_id, problem_line = problem.group(1), number
            continue
        source_match = _SOURCE.match(line)
        if source_match:
            source = source_match.group(1)
            continue
        if line.startswith("#"):
            heading = _HEADING.match(line)
            if heading is None or heading.group(1).lower() not in MARKERS:
                meant = _closest_marker(line)
                hint = f"did you mean '## {meant}'?" if meant else f"use ## {', ## '.join(MARKERS)}"
                issues.append(Issue(path, number, f"unknown marker {line!r}: {hint}"))
                if current is not None:
                    blocks.append(Block(current[0], current[1], current[3], current[2]))
                # Its lines belong to the section the person meant: one error for the heading, not one per line.
                current, misspelt = None, misspelt | {meant}
                swallowing = True
                continue
            swallowing = False
            if current is not None:
                blocks.append(Block(current[0], current[1], current[3], current[2]))
            marker = heading.group(1).lower()
            target = int(heading.group(2)) if heading.group(2) else None
            if target is not None and marker != "correction":
                issues.append(Issue(path, number, f"only a correction can name a step to return to ('## {marker}')"))
            current = (marker, number, target, [])
            continue
        if line.strip():
            if current is None and swallowing:
                continue
            if current is None:
                issues.append(Issue(path, number, "text outside any marked section: start it with ## attempt"))
                continue
            current[3].append((number, line.strip()))
    if current is not None:
        blocks.append(Block(current[0], current[1], current[3], current[2]))
    if problem_id is None:
        issues.append(Issue(path, 1, "missing '# problem: ID' line"))
        return None, issues
    annotation = Annotation(path, problem_id, problem_line, source, blocks)
    for block in blocks:
        if block.marker in ("attempt", "correction", "final") and not block.lines:
            issues.append(Issue(path, block.line, f"empty {block.marker}"))
    # A section whose heading is misspelt was reported above: saying it is missing too would contradict the file.
    if not any(block.marker == "attempt" for block in blocks) and "attempt" not in misspelt:
        issues.append(Issue(path, problem_line, "no ## attempt"))
    has_final = any(block.marker == "final" for block in blocks)  # an empty one was reported as "empty final"
    if annotation.final_answer is None and not has_final and "final" not in misspelt:
        issues.append(Issue(path, len(text.splitlines()) or 1, "no final answer: add '## final' with \\boxed{...}"))
    return annotation, issues


def _closest_marker(heading: str) -> str | None:
    """The marker a misspelt heading most likely meant ('## atempt', '## Attempt 2:', '# final'), if any."""
    words = re.findall(r"[a-z]+", heading.lower())
    for word in words[:2]:
        close = difflib.get_close_matches(word, MARKERS, n=1, cutoff=0.7)
        if close:
            return close[0]
    return None


def parse_file(path: Path) -> tuple[Annotation | None, list[Issue]]:
    """`parse` of a file; a file too large to be an annotation, or not UTF-8 text, is one issue naming it."""
    size = path.stat().st_size
    if size > MAX_ANNOTATION_BYTES:
        return None, [Issue(str(path), 1, f"{size:,} bytes: an annotation is at most {MAX_ANNOTATION_BYTES:,} bytes "
                                          f"and {MAX_ANNOTATION_LINES:,} lines")]
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        return None, [Issue(str(path), line, f"not UTF-8 text (byte {data[error.start]:#04x}): an annotation is a "
                                             "Markdown text file")]
    lines = text.count("\n") + 1
    if lines > MAX_ANNOTATION_LINES:
        return None, [Issue(str(path), MAX_ANNOTATION_LINES + 1, f"{lines:,} lines: an annotation is at most "
                                                                 f"{MAX_ANNOTATION_LINES:,} lines")]
    return parse(text, str(path))


def to_tree(annotation: Annotation) -> ThoughtTree:
    """Attempts and corrections as branches of the common tree; reflections and notes hang on the last step."""
    tree = ThoughtTree()
    frontier = 0
    last: ThoughtNode | None = None
    # The steps from the root to the frontier, kept as the tree grows: walking the path again for every new step
    # made a 200,000-line annotation quadratic (minutes with the event loop blocked, deaf to timeout and SIGTERM).
    steps: list[ThoughtNode] = []

    for block in annotation.blocks:
        if block.marker == "attempt":
            frontier, steps = 0, []  # a new attempt starts over; the previous one stays as an abandoned branch
        elif block.marker == "correction":
            # "correction to N": step N is the first wrong one (a critic's "backtrack to N"); default: the last step.
            first_wrong = block.target if block.target is not None and 1 <= block.target <= len(steps) else len(steps)
            for wrong in steps[first_wrong - 1:]:
                wrong.correct = False
            if steps:
                steps[-1].action = Action.BACKTRACK
                frontier = steps[first_wrong - 1].parent
                del steps[first_wrong - 1:]
        if block.marker in ("attempt", "correction"):
            for _, text in block.lines:
                last = tree.add(frontier, step=Step(index=len(steps) + 1, text=text))
                steps.append(last)
                frontier = last.id
        elif block.marker in ("reflection", "note") and last is not None:
            if block.marker == "reflection":
                last.action = Action.REFLECT
            tree.add(last.id, kind="reflection" if block.marker == "reflection" else "note",
                     step=Step(index=last.step.index, text=block.text))
        elif block.marker == "final" and block.lines:
            answer = annotation.final_answer
            last = tree.add(frontier, kind="answer", step=Step(index=len(steps) + 1, text=block.text), answer=answer)
            steps.append(last)
            frontier = last.id
    return tree


# The line our code writes before each section of the draft (an expander reads them back; eval/template_split.py
# counts them as template).
DRAFT_OPENERS = {"attempt": "Let me try this.", "correction": "That was wrong; let me correct it.",
                 "reflection": "Wait.", "note": "Note:", "final": "So the final answer is:"}


# A line that is only a box ("\\boxed{18}", as a final section is often written): math outside its delimiters.
_BARE_BOX = re.compile(r"^[ \t]*(\\boxed\{.*\})[ \t]*(\.?)[ \t]*$", re.MULTILINE)


def render_draft(annotation: Annotation) -> str:
    """The annotation as plain first-person text, in the order it was written (what the expansion starts from, and
    the long thought when an expansion is unfaithful); a line that is only a `\\boxed{}` is put inside `$…$`."""
    # No step numbers in the openers: an expansion need not repeat them, and a number the draft states is one a
    # faithfulness check must find again (the tree keeps which step a correction redoes).
    paragraphs = [DRAFT_OPENERS[block.marker] + "\n" + _BARE_BOX.sub(r"$\1$\2", block.text)
                  for block in annotation.blocks]
    return "\n\n".join(paragraphs)
