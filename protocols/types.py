"""The shared data model: problems, reasoning trees, transcripts and the per-problem record.

Every construction attempt writes the same `Record`, so training, evaluation and the viewer never
care which attempt produced it. All models forbid unknown fields and round-trip through JSON.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from protocols.repetition import is_looping

SCHEMA_VERSION = 1


class _Strict(BaseModel):
    # extra="forbid": a typo in a hand-written record or a field from a newer schema fails loudly.
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Action(StrEnum):
    """What a critic (or the policy itself, in attempt 2) decides after a step."""

    CONTINUE = "continue"
    BACKTRACK = "backtrack"
    REFLECT = "reflect"
    TERMINATE = "terminate"


class StopReason(StrEnum):
    """Why an attempt stopped working on a problem; records store the value, so these strings are the schema."""

    # The action loop (protocols.loop: debate and proposal-critique loop).
    TERMINATED = "terminated"
    MAX_TURNS = "max_turns"
    MAX_BACKTRACKS = "max_backtracks"
    MAX_TOKENS = "max_tokens"
    # Tree search.
    CORRECT_LEAF_FOUND = "correct_leaf_found"
    NO_CORRECT_LEAF = "no_correct_leaf"
    NO_STEPS = "no_steps"
    # Human annotation: whether the expansion kept every step of the human draft.
    EXPANDED = "expanded"
    EXPANSION_UNFAITHFUL = "expansion_unfaithful"


class Problem(_Strict):
    """One problem; `answer` is the gold final answer (None when unknown)."""

    id: str
    question: str
    answer: str | None = None
    source: str = ""
    meta: dict[str, Any] = Field(default_factory=dict)


class Step(_Strict):
    """One reasoning step as the policy wrote it; `index` is its 1-based number on its path."""

    index: int = Field(ge=0)
    text: str


class Verdict(_Strict):
    """A judgement of a step: the chosen action, why, and the raw text it was parsed from."""

    action: Action
    reason: str = ""
    backtrack_to: int | None = Field(default=None, description="step index to return to, for backtrack")
    raw: str = ""
    parsed: bool = Field(default=True, description="False when the raw text was unparseable and a fallback was used")


NodeKind = Literal["root", "step", "reflection", "note", "answer"]


class ThoughtNode(_Strict):
    """A node of the reasoning tree. The root holds the problem; every other node holds one step."""

    id: int = Field(ge=0)
    parent: int | None = None
    kind: NodeKind = "step"
    step: Step | None = None
    action: Action | None = Field(default=None, description="the action taken after this node")
    score: float | None = None
    verdict: Verdict | None = None
    correct: bool | None = Field(default=None, description="known correctness of this step or final answer")
    answer: str | None = Field(default=None, description="final answer extracted at this node, if any")
    children: list[int] = Field(default_factory=list)


class ThoughtTree(_Strict):
    """A rooted tree of reasoning steps; node ids are their positions in `nodes`."""

    nodes: list[ThoughtNode] = Field(default_factory=lambda: [ThoughtNode(id=0, kind="root")])

    @model_validator(mode="after")
    def _check_links(self) -> ThoughtTree:
        if not self.nodes or self.nodes[0].kind != "root" or self.nodes[0].parent is not None:
            raise ValueError("tree.nodes[0] must be the root (kind='root', parent=None)")
        for position, node in enumerate(self.nodes):
            if node.id != position:
                raise ValueError(f"tree.nodes[{position}].id is {node.id}, expected {position}")
            if position and (node.parent is None or not 0 <= node.parent < position):
                raise ValueError(f"tree.nodes[{position}].parent must name an earlier node, got {node.parent}")
            if position and position not in self.nodes[node.parent].children:
                raise ValueError(f"tree.nodes[{position}] is missing from its parent's children")
        return self

    @property
    def root(self) -> ThoughtNode:
        return self.nodes[0]

    def add(self, parent: int, **fields: Any) -> ThoughtNode:
        """Append a child of `parent` and return it."""
        if not 0 <= parent < len(self.nodes):
            raise IndexError(f"no node {parent} in a tree of {len(self.nodes)} nodes")
        node = ThoughtNode(id=len(self.nodes), parent=parent, **fields)
        self.nodes.append(node)
        self.nodes[parent].children.append(node.id)
        return node

    def count_nodes(self) -> int:
        return len(self.nodes)

    def path(self, node_id: int) -> list[ThoughtNode]:
        """The nodes from the root to `node_id`, both included."""
        path = []
        current: int | None = node_id
        while current is not None:
            node = self.nodes[current]
            path.append(node)
            current = node.parent
        return path[::-1]

    def depth(self, node_id: int) -> int:
        return len(self.path(node_id)) - 1

    def leaves(self) -> list[ThoughtNode]:
        return [node for node in self.nodes if not node.children and node.kind != "root"]


class Turn(_Strict):
    """One message of the conversation that built the long thought."""

    role: str = Field(description="policy, critic, judge, rewriter, human, ...")
    content: str
    action: Action | None = None
    node_id: int | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = Field(default=None, description="why the model stopped: stop, length, ...; None if unknown")


class Usage(_Strict):
    """Token and cost totals; `cost` stays None when any call's price was unknown."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = 0.0
    retries: int = 0
    cache_hits: int = 0
    cached_completion_tokens: int = Field(default=0, description="completion tokens replayed from the cache, not generated")

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        cost = None if self.cost is None or other.cost is None else self.cost + other.cost
        return Usage(
            calls=self.calls + other.calls,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cost=cost,
            retries=self.retries + other.retries,
            cache_hits=self.cache_hits + other.cache_hits,
            cached_completion_tokens=self.cached_completion_tokens + other.cached_completion_tokens,
        )


def add_usage(totals: dict[str, Usage], more: dict[str, Usage]) -> None:
    """Add per-role usage `more` into `totals` (roles missing from `totals` are added)."""
    for role, usage in more.items():
        totals[role] = totals[role] + usage if role in totals else usage


class Sample(_Strict):
    """One sampled solution, the final answer extracted from it, and whether that answer is right."""

    text: str
    answer: str | None
    correct: bool
    # "length" when the sample hit its token cap: its answer may be missing because it was cut, not because it was
    # wrong, so such a sample never becomes a DPO negative (None in rows written before this field existed).
    finish_reason: str | None = None
    # Whether the text ends in degenerate repetition (protocols.repetition): a looping sample is never a DPO
    # "chosen", and accuracy counts it apart. None in rows written before this field: `looping` measures the text.
    repetition: bool | None = None

    @property
    def truncated(self) -> bool:
        return self.finish_reason == "length"

    @property
    def looping(self) -> bool:
        return self.repetition if self.repetition is not None else is_looping(self.text)

    @property
    def finished(self) -> bool:
        """Neither cut at the token cap nor looping: the sample's answer is the model's own."""
        return not self.truncated and not self.looping


class SampleSet(_Strict):
    """Every sample of one problem: a line of a DPO sampling run or of an accuracy run."""

    schema_version: Literal[1] = SCHEMA_VERSION
    problem_id: str
    problem: Problem
    model: str
    samples: list[Sample]
    usage: dict[str, Usage] = Field(default_factory=dict)
    meta: dict[str, Any] = Field(default_factory=dict)

    @property
    def positives(self) -> list[Sample]:
        return [sample for sample in self.samples if sample.correct]

    @property
    def negatives(self) -> list[Sample]:
        return [sample for sample in self.samples if not sample.correct]

    @property
    def accuracy(self) -> float:
        return len(self.positives) / len(self.samples) if self.samples else 0.0

Attempt = Literal["tree_search", "critique_loop", "debate", "human_annotation"]


class Record(_Strict):
    """One finished problem of one attempt: a line of `records.jsonl`."""

    # A stop reason is checked against StopReason but kept as its plain string, so every reader (report, viewer,
    # logs) sees exactly what is on disk.
    model_config = ConfigDict(use_enum_values=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    problem_id: str
    attempt: Attempt
    problem: Problem
    tree: ThoughtTree = Field(default_factory=ThoughtTree)
    turns: list[Turn] = Field(default_factory=list)
    shortcut: str | None = None
    long_thought: str = ""
    final_answer: str | None = None
    correct: bool | None = None
    stop_reason: StopReason
    usage: dict[str, Usage] = Field(default_factory=dict, description="totals by agent role")
    meta: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_problem_id(self) -> Record:
        if self.problem_id != self.problem.id:
            raise ValueError(f"record.problem_id {self.problem_id!r} differs from problem.id {self.problem.id!r}")
        return self

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, line: str) -> Record:
        return cls.model_validate_json(line)
