import json
import subprocess
import sys

import pytest

from agents.roles.reward import StepScore
from protocols.types import Problem
from synthesis.tree_search import TreeSearchConfig, estimate_generations, grow_tree, run_tree_search
from tests.fakes import ScriptedLLM

PROBLEM = Problem(id="p", question="2x = 8. What is x?", answer="4")


class CountingPolicy(ScriptedLLM):
    """Proposes distinct numbered steps; the answer step appears only where the script says."""

    def __init__(self, answer_at_depth: int | None = None):
        super().__init__()
        self.answer_at_depth = answer_at_depth
        self.generated = 0

    async def complete(self, messages, *, n=1, role="default", **kwargs):
        depth = messages[-1]["content"].count("\n") and messages[-1]["content"].split("Write step ")[-1].split()[0]
        texts = []
        for i in range(n):
            self.generated += 1
            if self.answer_at_depth is not None and int(depth) == self.answer_at_depth and i == 0:
                texts.append(f"{depth}. So x = \\boxed{{4}}")
            elif self.answer_at_depth is not None and int(depth) == self.answer_at_depth and i == 1:
                texts.append(f"{depth}. So x = \\boxed{{3}}")
            else:
                texts.append(f"{depth}. step {self.generated}")
        self.script["policy"] = list(texts)
        completion = await super().complete(messages, n=1, role=role, **kwargs)
        return completion.__class__(**{**completion.__dict__, "texts": texts})


class ScoreByNumber:
    """A deterministic fake PRM: the score is the generation number mod 7, over 7."""

    binary = False

    async def score(self, problem, steps):
        digits = "".join(ch for ch in steps[-1] if ch.isdigit()) or "0"
        return StepScore(value=(int(digits) % 7) / 7, reason=f"fake score of {steps[-1]!r}")


async def test_beam_keeps_exactly_k_per_depth_and_counts_match_the_estimate():
    config = TreeSearchConfig(width=3, depth=4, beam=2)
    policy = CountingPolicy()
    tree = await grow_tree(PROBLEM, config, policy, ScoreByNumber())
    pruned, unpruned = estimate_generations(config)
    assert policy.generated == pruned == 3 + 3 * 2 * 3 and unpruned == 3 + 9 + 27 + 81
    for level in range(1, 4):
        at_level = [n for n in tree.nodes if n.step and n.step.index == level]
        kept = [n for n in at_level if n.action.value == "continue"]
        assert len(kept) == 2
        # the kept ones are the best scored at that level
        assert min(n.score for n in kept) >= max(n.score for n in at_level if n not in kept)
    assert all(n.score is not None and n.verdict.raw for n in tree.nodes[1:])
    # a scalar scorer's text is bookkeeping: it never becomes a reason a long thought could quote
    assert not any(n.verdict.reason for n in tree.nodes[1:])


async def test_binary_judge_keeps_at_most_k_judged_correct():
    class Judge:
        binary = True

        async def score(self, problem, steps):
            ok = steps[-1].endswith(("1", "3", "5"))
            return StepScore(value=float(ok), correct=ok, reason="ok" if ok else "no")

    tree = await grow_tree(PROBLEM, TreeSearchConfig(width=3, depth=2, beam=2), CountingPolicy(), Judge())
    kept = [n for n in tree.nodes[1:] if n.action.value == "continue"]
    assert len(kept) <= 2 and all(n.correct for n in kept)


async def test_a_level_judged_all_wrong_is_sampled_again_and_keeps_the_rejects():
    class Judge:
        binary = True
        calls = 0

        async def score(self, problem, steps):
            Judge.calls += 1
            ok = Judge.calls > 3  # the first round's three candidates are all wrong
            return StepScore(value=float(ok), correct=ok, reason="" if ok else "I halved 8 wrongly.")

    policy = CountingPolicy()
    tree = await grow_tree(PROBLEM, TreeSearchConfig(width=3, depth=2, beam=2, resamples=1), policy, Judge())
    level_one = [tree.nodes[child] for child in tree.root.children]
    assert len(level_one) == 6 and [n.correct for n in level_one[:3]] == [False] * 3
    assert all(n.verdict.reason == "I halved 8 wrongly." for n in level_one[:3])
    assert any(n.action.value == "continue" for n in level_one[3:])
    seeds = {call["seed"] for call in policy.sampling["policy"][:2]}
    assert len(seeds) == 2, "the second round is a new sample"


async def test_record_has_shortcut_and_long_thought_from_the_same_tree():
    config = TreeSearchConfig(width=3, depth=3, beam=2, rewrite_model="none", trials_per_node=1)
    clients = {"policy": CountingPolicy(answer_at_depth=2)}
    record = await run_tree_search(PROBLEM, config, clients, lambda scoped: ScoreByNumber(), seed=1)
    assert record.attempt == "tree_search" and record.correct and record.final_answer == "4"
    assert record.stop_reason == "correct_leaf_found"
    assert record.shortcut.endswith("So x = \\boxed{4}") and record.long_thought.endswith("So x = \\boxed{4}")
    assert record.long_thought.count("\\boxed{4}") == 1  # one final answer: the shortcut is not restated
    wrong_answers = [n for n in record.tree.nodes if n.kind == "answer" and n.correct is False]
    assert wrong_answers, "the scripted tree also holds wrong answers"


async def test_no_correct_leaf_is_a_named_stop_reason():
    record = await run_tree_search(PROBLEM, TreeSearchConfig(width=2, depth=2, beam=1, rewrite_model="none"),
                                   {"policy": CountingPolicy()}, lambda scoped: ScoreByNumber())
    assert record.stop_reason == "no_correct_leaf" and record.shortcut is None and record.correct is False
    assert record.long_thought.endswith("I have not found an answer that checks out.")


def test_dry_run_prints_the_pruned_estimate(tmp_path, with_data_dir):
    result = subprocess.run([sys.executable, "-m", "synthesis.tree_search", "--problems", "math500", "--limit", "2",
                             "--width", "3", "--depth", "10", "--beam", "3", "--dry-run", "--out", str(tmp_path / "r")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    # per problem: 1 + 9 * 3 proposal requests, 3 + 9 * 9 scored steps, 2 resampled rounds of 3 + 9, one rewrite,
    # and grown wrong branches: 10 path nodes x 2 wrong children x 10 steps x (a proposal + a score)
    assert "at most 1,074 model calls" in result.stderr  # 2 x (137 + 400)


@pytest.mark.slow
def test_tree_search_on_the_embedded_model(tmp_path, with_data_dir, embedded_api_base):
    out = tmp_path / "tree"
    result = subprocess.run(
        [sys.executable, "-m", "synthesis.tree_search", "--problems", "math500", "--limit", "1", "--width", "2",
         "--depth", "2", "--beam", "2", "--scorer", "rollout", "--rollouts", "2", "--policy-max-tokens", "48",
         "--out", str(out)],
        capture_output=True, text=True, timeout=900,
        env={**__import__("os").environ, "LONGTHOUGHT_EMBEDDED_API_BASE": embedded_api_base},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    (line,) = (out / "records.jsonl").read_text().splitlines()
    record = json.loads(line)
    scored = [n for n in record["tree"]["nodes"][1:] if n["score"] is not None]
    assert len(scored) == len(record["tree"]["nodes"]) - 1 >= 4
    assert record["stop_reason"] in {"correct_leaf_found", "no_correct_leaf"}
    assert (record["shortcut"] is None) == (record["stop_reason"] == "no_correct_leaf")
    assert record["long_thought"]
