"""Which keywords of a long thought the model wrote and which our own templates inserted.

A debate's long thought is rendered by `protocols.render` from the tree: the model wrote the steps and the
critic's reasons, the templates in `prompts/render/` wrote "Wait, ", "Let me go back to step 2 and redo it."
and the like. Counting "wait" or "let me" over the whole text would measure our templates (issue [5/5]), so:

- rendered thoughts (debate, critique loop) are rendered again with every model-written piece replaced by a
  placeholder; what is left is exactly the template text, and model-written = total - template. A record
  whose long thought the current renderer does not reproduce (an older renderer) falls back to the phrases;
- a tree search's DFS draft has the fixed phrases of `synthesis/traverse.py` ("Let me start over.", ...),
  counted where they occur; an accepted LLM rewrite is model-written except those phrases where it kept them
  word for word;
- a human annotation's expansion is model-written and its fallback draft person-written, except the section
  openers our draft writes ("Let me try this.", "Wait."), counted where they occur;
- what the oracle wrote as a rewriter or an expander (a record marked so): its connectives where they open a step
  and its sentence banks (ORACLE_PHRASES) are template too, for every attempt, never "written by the model".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from protocols.rehearsal import row_oracle_roles
from protocols.render import long_thought as render_long_thought
from protocols.types import Record
from protocols.voice import NEUTRAL_REASON

# A placeholder with no keyword in it and a word boundary on both sides, whatever the template puts around it.
_PLACEHOLDER = "x"


def _phrase(pattern: str) -> tuple[re.Pattern, str]:
    """A fixed phrase with {} for model text and {n} for a number, as (regex, the phrase's own words)."""
    parts = re.split(r"(\{n?\})", pattern)
    regex = "".join(r"\d+" if part == "{n}" else ".*?" if part == "{}" else re.escape(part)
                    for part in parts)
    own = " ".join(part for part in parts if part not in ("{}", "{n}"))
    return re.compile(regex), own


# synthesis/traverse.py's fixed sentences (the DFS draft; its DRAFT_SENTENCES, a test keeps the two in agreement),
# the closings of older drafts, and protocols.voice's neutral reason.
DRAFT_PHRASES = [_phrase(text) for text in (
    "Let me start over.", "I'll start again from the beginning.", "Back to the beginning, then.",
    "Let me go back to step {n} and redo it.", "So step {n} has to be redone.",
    "I'll return to step {n} and take another route.", "Back to step {n}, then.",
    "That means step {n} needs a different approach.",
    "But {} does not check out, so this line of reasoning is wrong.", "This line of reasoning cannot be right.",
    "So the final answer is $\\boxed{{}}$.", "I have not found an answer that checks out.",
    "So the solution is:", "I have not found a correct solution; my best attempt is:", NEUTRAL_REASON)]
# prompts/render/*.j2 and protocols/render.py's fixed sentences, for rendered thoughts the renderer no longer
# reproduces; the paragraph openers are matched only at a paragraph's start (after a redone step's number), where
# the templates put them.
RENDER_PHRASES = DRAFT_PHRASES + [_phrase(text) for text in (
    "Let me try another way.", "Hmm, that doesn't look right.", "Hmm, let me check that.", "Let me think again.",
    "Let me reconsider this step.", "That is not a final answer yet.", "The answer {} is not correct.",
    "This is wrong.", "So the final answer is")]
_OPENERS = re.compile(r"(?:^|\n\n)(?:\d+\.\s+)?(Wait|Alternatively|Instead|Hold on)\b")
# protocols.annotation's DRAFT_OPENERS: the line our code writes before each section of an annotation's draft
# (the fallback long thought; an expansion may keep them word for word).
ANNOTATION_OPENERS = [_phrase(text) for text in (
    "Let me try this.", "That was wrong; let me correct it.", "Wait.", "Note:", "So the final answer is:")]
# What the oracle writes around the steps it rewrites or expands (agents.backends.oracle.prose and
# agents.backends.oracle.expansion; a test keeps this copy in agreement with the banks, and a phrase stays here when a
# bank drops it, so older records are still counted). Connectives are ours only where they open a step, so they are
# matched there.
ORACLE_CONNECTIVES = ("To begin, ", "First, ", "To start, ", "Next, ", "Then ", "After that, ", "From there, ",
                      "Building on that, ", "With that, ", "Moving on, ", "This time, ", "Redoing it, ",
                      "Doing it again, ")
_CONNECTIVE_AT_STEP = [(re.compile(r"(?:^|\n)(?:\d+\.\s+)?" + re.escape(text)), text.strip(" ,"))
                       for text in ORACLE_CONNECTIVES]
ORACLE_PHRASES = [_phrase(text) for text in (
    "That would make the answer", "This line gives the answer", "By this reckoning the answer is",
    "Let me think about how to start.", "I'll work through this one piece at a time.",
    "Let me see what the problem gives me and go from there.", "Let me start again from the top, another way.",
    "I'll set that aside and begin afresh.", "So at this point I have {}.", "That gives me {} so far.",
    "Keeping track: I now have {}.", "Wait, something is off in the step where I got {}.",
    "Hold on, let me look again at the step with {}.", "Hmm, the {} in that last step does not sit right.",
    "Wait, let me check that last step.", "Hold on, something is off here.", "So I'll redo that part.",
    "Let me fix that and carry on.", "I need to go back and redo it from there.",
    "This time I get {} instead of {}, which is what the steps before give.",
    "With {} in place of {}, the step now follows from what I had.",
    "Now it reads {} rather than {}, consistent with the earlier work.",
    "This version follows from the steps before it.", "That step now agrees with what I had before it.",
    "One thing worth keeping in mind here.", "A point I should not skip over.",
    "So the final answer is $\\boxed{{}}$.", "That settles it: the final answer is $\\boxed{{}}$.")]


@dataclass(frozen=True)
class TemplateText:
    """The template-written part of a long thought and how it was found (rendered, phrases, none)."""

    text: str
    method: str


def _phrases(text: str, phrases: list[tuple[re.Pattern, str]], openers: bool = False) -> str:
    found = [own for regex, own in phrases for _ in regex.finditer(text)]
    if openers:
        found += [match.group(1) for match in _OPENERS.finditer(text)]
    return "\n".join(found)


def template_text(record: Record) -> TemplateText:
    """The text our templates contributed to `record.long_thought` (empty when the model wrote all of it)."""
    thought = record.long_thought
    if record.attempt in ("debate", "critique_loop"):
        final = record.final_answer if record.correct else None  # as synthesis/episode.py renders it
        if render_long_thought(record.tree, record.turns, final) == thought:
            return TemplateText(render_long_thought(record.tree, record.turns, final, placeholder=_PLACEHOLDER),
                                "rendered")
        return TemplateText(_phrases(thought, RENDER_PHRASES, openers=True), "phrases")
    oracle = row_oracle_roles(record.meta) or []
    if record.attempt == "tree_search":
        # A rewrite is the rewriter's text, but a sentence of our draft it kept word for word ("Let me start over.")
        # is still ours: counting it as the model's would measure our draft through the rewriter.
        rewritten = bool(record.meta.get("rewrite")) and thought == record.meta["rewrite"]
        if rewritten and "rewriter" in oracle:  # the oracle's connectives are our code's words too
            return TemplateText(_oracle_phrases(thought, DRAFT_PHRASES), "oracle-rewrite-phrases")
        return TemplateText(_phrases(thought, DRAFT_PHRASES), "rewrite-kept-phrases" if rewritten else "phrases")
    if record.attempt == "human_annotation":
        # The draft's section openers are ours wherever they stand; an oracle expansion's sentences are ours too.
        expanded = record.meta.get("rewrite_faithful") is True
        if expanded and "expander" in oracle:
            return TemplateText(_oracle_phrases(thought, ANNOTATION_OPENERS), "oracle-expansion-phrases")
        return TemplateText(_phrases(thought, ANNOTATION_OPENERS), "expansion-kept-phrases" if expanded else "draft")
    return TemplateText("", "none")


def _oracle_phrases(text: str, ours: list[tuple[re.Pattern, str]]) -> str:
    """Our phrases in an oracle's text: `ours`, the oracle's sentences, and its connectives where they open a step
    (found once each: an oracle sentence that holds one of `ours` is counted as the sentence)."""
    found, rest = [], text
    for regex, own in ORACLE_PHRASES + ours:
        found += [own for _ in regex.finditer(rest)]
        rest = regex.sub("\x00", rest)
    found += [own for regex, own in _CONNECTIVE_AT_STEP for _ in regex.finditer(rest)]
    return "\n".join(found)
