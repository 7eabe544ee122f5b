"""The action state machine shared by the debate (attempt 3) and the proposal-critique loop (attempt 2).

It owns the `ThoughtTree` of one episode and says what each action does to it:
- continue: the judged step joins the current path (the frontier moves onto it);
- backtrack to N: step N is the first wrong step. The path is cut back to step N-1 (N = 1 starts over) and the
  next proposal is a new step N; steps N.. stay in the tree as the abandoned branch. Without a usable N (none,
  0, or past the judged step) the judged step itself is the wrong one;
- reflect: a reflection node is hung under the judged step, the frontier stays, and a revision is asked for,
  so the revised step becomes a sibling of the one it replaces;
- terminate: the episode ends.
The answer signal is enforced here, not left to the judge: a known-wrong final answer cannot be accepted
(terminate becomes reflect), and a known-correct one ends the episode. When the problem has a gold answer,
terminating on a step with no final answer is refused the same way, for every attempt: it becomes reflect with
the negative signal ("That is not a final answer yet.") as its reason. After a known-wrong answer the next
proposal hears the negative signal ("The answer 5 is not correct.") unless the judge was shown the check and
gave its own reason (`judge_sees_answer_check`). Every limit is checked here too, and `done` is the one
stopping rule: an attempt loops until it is set (the debate's autogen termination condition reads it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prompts import render
from protocols.types import Action, Step, StopReason, ThoughtNode, ThoughtTree, Turn, Verdict


@dataclass(frozen=True)
class LoopLimits:
    """When an episode must stop even if nobody says terminate."""

    max_turns: int = field(default=16, metadata={"help": "policy steps per problem"})
    max_backtracks: int = field(default=4, metadata={"help": "backtracks per problem"})
    max_problem_tokens: int = field(default=12_000, metadata={"help": "prompt + completion tokens per problem, all roles"})

    def __post_init__(self) -> None:
        for name in ("max_turns", "max_problem_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: expected >= 1, got {getattr(self, name)}")
        if self.max_backtracks < 0:
            raise ValueError(f"max_backtracks: expected >= 0, got {self.max_backtracks}")


@dataclass
class LoopState:
    """One episode: the tree, where the next step goes, the turns so far, and why it stopped."""

    limits: LoopLimits = field(default_factory=LoopLimits)
    tree: ThoughtTree = field(default_factory=ThoughtTree)
    frontier: int = 0
    turns: list[Turn] = field(default_factory=list)
    pending_step: int | None = None
    feedback: str | None = None
    stop_reason: StopReason | None = None
    policy_turns: int = 0
    backtracks: int = 0
    reflections: int = 0
    parse_failures: int = 0
    overridden_verdicts: int = 0
    tokens: int = 0
    has_gold_answer: bool = False  # whether an episode may only end on a checked answer (see _enforce_answer_signal)
    judge_sees_answer_check: bool = False  # whether the judge is told if a final answer checked out (see _feedback)

    @property
    def done(self) -> bool:
        return self.stop_reason is not None

    def path_steps(self) -> list[ThoughtNode]:
        """The step nodes of the current line of reasoning, root excluded."""
        return [node for node in self.tree.path(self.frontier) if node.kind in ("step", "answer")]

    def next_index(self) -> int:
        return len(self.path_steps()) + 1

    def add_step(
        self, text: str, *, answer: str | None = None, correct: bool | None = None, tokens: int = 0, role: str = "policy",
        finish_reason: str | None = None,
    ) -> ThoughtNode:
        """Record the policy's next step under the frontier; it waits for a verdict."""
        if self.done:
            raise RuntimeError(f"episode already stopped ({self.stop_reason})")
        if self.pending_step is not None:
            raise RuntimeError("the previous step has no verdict yet")
        node = self.tree.add(
            self.frontier,
            kind="answer" if answer is not None else "step",
            step=Step(index=self.next_index(), text=text),
            answer=answer,
            correct=correct,
        )
        self.pending_step = node.id
        self.policy_turns += 1
        self.turns.append(Turn(role=role, content=text, node_id=node.id, completion_tokens=tokens,
                               finish_reason=finish_reason))
        self.feedback = None
        return node

    def apply(self, verdict: Verdict, *, role: str = "critic", content: str | None = None, tokens: int = 0,
              finish_reason: str | None = None) -> Action:
        """Apply a verdict on the pending step; returns the action actually taken."""
        if self.pending_step is None:
            raise RuntimeError("no step is waiting for a verdict")
        step = self.tree.nodes[self.pending_step]
        self.pending_step = None
        if not verdict.parsed:
            self.parse_failures += 1
        action = self._enforce_answer_signal(step, verdict)
        step.verdict = verdict  # what the judge said; `action` is what was done
        if action is not verdict.action and step.kind != "answer" and verdict.action is Action.TERMINATE:
            verdict = verdict.model_copy(update={"reason": render("render/negative_signal", answer=None)})
        step.action = action
        feedback = self._feedback(step, verdict)  # before a backtrack marks the judged step wrong
        self.turns.append(
            Turn(role=role, content=content if content is not None else verdict.raw, action=action,
                 node_id=step.id, completion_tokens=tokens, finish_reason=finish_reason)
        )
        if action is Action.CONTINUE:
            self.frontier = step.id
        elif action is Action.BACKTRACK:
            self._backtrack(step, verdict.backtrack_to)
            self.feedback = feedback
        elif action is Action.REFLECT:
            self.reflections += 1
            reflection = self.tree.add(step.id, kind="reflection", step=Step(index=step.step.index, text=verdict.reason))
            reflection.action = Action.REFLECT
            self.feedback = feedback
        else:
            self.stop_reason = StopReason.TERMINATED
        self._check_limits()
        return action

    def _enforce_answer_signal(self, step: ThoughtNode, verdict: Verdict) -> Action:
        if step.correct is True and verdict.action is not Action.TERMINATE:
            self.overridden_verdicts += 1
            return Action.TERMINATE
        if step.correct is False and verdict.action in (Action.TERMINATE, Action.CONTINUE):
            self.overridden_verdicts += 1
            return Action.REFLECT
        if self.has_gold_answer and step.kind != "answer" and verdict.action is Action.TERMINATE:
            self.overridden_verdicts += 1  # an episode that could be checked must not end unchecked
            return Action.REFLECT
        return verdict.action

    def _feedback(self, step: ThoughtNode, verdict: Verdict) -> str:
        # A judge that never saw the check (a self-critic judges its step in the same reply) cannot say the answer
        # failed it, so the check speaks for itself; a judge told the result was asked what to fix: its reason says.
        if step.correct is False and not self.judge_sees_answer_check:
            return render("render/negative_signal", answer=step.answer)
        return verdict.reason

    def _backtrack(self, step: ThoughtNode, target: int | None) -> None:
        self.backtracks += 1
        line = [node for node in self.tree.path(step.id) if node.kind in ("step", "answer")]  # steps 1..judged
        first_wrong = line[target - 1] if target is not None and 1 <= target <= len(line) else step
        # Everything from the first wrong step on is off the path: it must never reach a shortcut as correct.
        for node in line[line.index(first_wrong):]:
            node.correct = False if node.correct is None else node.correct
        self.frontier = first_wrong.parent

    def _check_limits(self) -> None:
        if self.done:
            return
        if self.backtracks > self.limits.max_backtracks:
            self.stop_reason = StopReason.MAX_BACKTRACKS
        elif self.tokens >= self.limits.max_problem_tokens:
            self.stop_reason = StopReason.MAX_TOKENS
        elif self.policy_turns >= self.limits.max_turns:
            self.stop_reason = StopReason.MAX_TURNS

    def add_tokens(self, count: int) -> None:
        """Count tokens spent on this episode (any role); may stop it."""
        self.tokens += count
        if self.pending_step is None:
            self._check_limits()

    def final_node(self) -> ThoughtNode | None:
        """The last answered step the episode ended on, if any."""
        for turn in reversed(self.turns):
            if turn.node_id is not None and self.tree.nodes[turn.node_id].kind == "answer":
                return self.tree.nodes[turn.node_id]
        return None
