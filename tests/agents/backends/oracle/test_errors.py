"""The oracle errs like a solver: errors wrong by value, carried on consistently, caught late, never leaking the
gold answer; debate and critique loop differ; tree search explores wrong branches to their leaf."""

import random
import re

from agents.backends.oracle import provider
from agents.backends.oracle.arith import equations, evaluate
from agents.backends.oracle.detection import SELF_CRITIC, SEPARATE_CRITIC
from agents.backends.oracle.errors import KINDS, carry, inject
from agents.backends.oracle.reference import reference_for
from agents.calls.client import LLMClient
from agents.roles.reward import make_scorer
from protocols.types import Problem
from synthesis.critique_loop import CritiqueLoopConfig, run_critique_loop
from synthesis.debate import DebateConfig, run_debate
from synthesis.tree_search import TreeSearchConfig, _add_unique, run_tree_search
from protocols.types import ThoughtTree

SOLUTION = ("Tom buys 4 * 6 = <<4*6=24>>24 apples.\nHe eats 24 / 3 = <<24/3=8>>8 of them.\n"
            "He has 24 - 8 = <<24-8=16>>16 left.\nHe gives away 16 - 5 = <<16-5=11>>11 and keeps the rest.\n"
            "He sells them for 11 * 2 = $<<11*2=22>>22.\n#### 22")
SHOP = Problem(id="unit/apples", question="Tom buys 4 bags of 6 apples. He eats a third of them, gives 5 of the rest "
               "to a friend, and sells what is left for $2 each. How much money does he make?", answer="22",
               source="gsm8k_unit", meta={"solution": SOLUTION})
provider.remember([SHOP])
LEAK = re.compile(r"answer \S+ is not correct|correct (final )?answer|gold|reference", re.IGNORECASE)


def _bodies():
    return reference_for(SHOP).bodies


def test_every_kind_is_wrong_by_value_and_carried_on_consistently():
    bodies = _bodies()
    for kind in KINDS:
        made = [inject(bodies, 1, kind, random.Random(seed), question=SHOP.question, answer="22") for seed in range(10)]
        made = [injection for injection in made if injection is not None]
        assert made, kind
        for injection in made:
            assert injection.answer != "22" and evaluate(injection.answer) != 22
            # every computation on the wrong line after the error is right arithmetic on the wrong values
            for step in injection.steps[1:]:
                for equation in equations(step):
                    assert equation.lhs.value == equation.value, (kind, step)
            assert injection.carried >= 2 and "22" not in injection.steps[-1]
            assert not LEAK.search(injection.reason + injection.check)


def test_a_correct_error_is_resampled_never_narrated():
    # cos is even: -30 for 30 under \cos is no error; the evaluator does not trust a number glued to a function,
    # so no error is offered there, and a sign flip under a square is rejected by value.
    body = "We have $\\frac14\\cos(30^\\circ) \\cdot 8 = 2\\cos(30^\\circ)$ here."
    assert all(inject([body, "So 4 + 3 = 7."], 1, kind, random.Random(seed), answer="7") is None
               for kind in KINDS for seed in range(5))
    squared = ["First $(-3)^2 = 9$ holds.", "Then 9 + 1 = 10."]
    for seed in range(20):
        injection = inject(squared, 1, "arithmetic", random.Random(seed), answer="10")
        assert injection is None or "(3)^2" not in injection.steps[0]


def test_errors_are_well_formed_latex():
    bodies = ["We get $a = \\frac{12}{4} - 1 = 2$.", "So $b = 2 \\cdot 5 = 10$."]
    for kind in KINDS:
        for seed in range(10):
            injection = inject(bodies, 1, kind, random.Random(seed), answer="10")
            if injection is None:
                continue
            for step in injection.steps:
                assert "- -" not in step and "--" not in step and not re.search(r"\\frac\{[^}]*\}-", step)
                assert step.count("{") == step.count("}") and step.count("$") % 2 == 0


def test_carry_recomputes_from_the_wrong_value():
    changes = [(evaluate("24"), evaluate("30"))]
    assert carry("He eats 24 / 3 = 8 of them, then 8 + 1 = 9.", changes) == "He eats 30 / 3 = 10 of them, then 10 + 1 = 11."


def test_the_two_critics_have_different_detection_defaults():
    assert SELF_CRITIC != SEPARATE_CRITIC and SELF_CRITIC.miss_rate > SEPARATE_CRITIC.miss_rate
    assert provider.parse_model("oracle/reference-e30-miss50-delay3").behaviour.detection("critic").max_delay == 3
    spec = provider.parse_model("oracle/reference-method30").behaviour
    assert spec.error_rate == 0.3 and dict(spec.mix) == {"method": 1.0}


async def _debate(seed):
    config = DebateConfig(policy_model="oracle/reference-e30", critic_model="oracle/reference", max_turns=40,
                          max_backtracks=20, max_problem_tokens=1_000_000, policy_max_tokens=1024)
    return await run_debate(SHOP, config, LLMClient(model="oracle/reference-e30"),
                            LLMClient(model="oracle/reference"), seed=seed)


async def _loop(seed):
    config = CritiqueLoopConfig(model="oracle/reference-e30", max_turns=40, max_backtracks=20,
                                max_problem_tokens=1_000_000, policy_max_tokens=1024)
    return await run_critique_loop(SHOP, config, LLMClient(model="oracle/reference-e30"), seed=seed)


async def test_debate_and_critique_loop_differ_and_backtrack_to_earlier_steps():
    debates = [await _debate(seed) for seed in range(12)]
    loops = [await _loop(seed) for seed in range(12)]
    assert all(record.correct for record in debates + loops)
    assert sum(a.long_thought != b.long_thought for a, b in zip(debates, loops)) >= 3
    earlier = [turn for record in debates + loops for turn in record.turns if turn.action == "backtrack"
               and record.tree.nodes[turn.node_id].verdict.backtrack_to < record.tree.nodes[turn.node_id].step.index]
    assert earlier, "some errors are noticed only a few steps later"
    for record in debates + loops:
        assert not LEAK.search(record.long_thought), record.long_thought


async def test_tree_search_explores_wrong_branches_to_their_leaf_and_merges_duplicates():
    config = TreeSearchConfig(policy_model="oracle/reference-e30", scorer="llm-judge", scorer_model="oracle/reference",
                              rewrite_model="none", width=3, depth=8, beam=1, policy_max_tokens=1024)
    clients = {"policy": LLMClient(model="oracle/reference-e30"), "scorer": LLMClient(model="oracle/reference")}
    scorer_for = lambda scoped: make_scorer("llm-judge", judge=scoped["scorer"])  # noqa: E731
    depths = []
    for seed in range(6):
        record = await run_tree_search(SHOP, config, clients, scorer_for, seed=seed)
        assert record.correct
        depths += [len(branch) for branch in record.meta["trial_branches"]]
        for node in record.tree.nodes:
            texts = [record.tree.nodes[child].step.text for child in node.children]
            assert len(texts) == len(set(texts)), "duplicate siblings are merged"
        assert record.long_thought.count("\\boxed{22}") == 1 and "So the solution is" not in record.long_thought
    assert depths and sum(depths) / len(depths) > 1.5


def test_a_duplicate_sibling_is_merged():
    tree = ThoughtTree()
    assert _add_unique(tree, tree.root, "1. $x = 4$.", 1) is not None
    assert _add_unique(tree, tree.root, "1. x  =  4", 1) is None
    assert _add_unique(tree, tree.root, "1. x = 5", 1) is not None


def test_a_judges_reason_in_latex_with_braces_is_parsed():
    from agents.roles.reward import parse_judgement

    assert parse_judgement('{"correct": false, "score": 0.0, "reason": "$\\\\sqrt{9}$ is 3, not 4."}') == (
        False, "$\\sqrt{9}$ is 3, not 4.")
