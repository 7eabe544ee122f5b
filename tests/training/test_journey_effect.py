"""The journey-effect experiment's parts, without a model: verifier, splits, trees, arms, behaviour, statistics."""

from __future__ import annotations

import math
import random

import pytest

from eval.paired_stats import mcnemar_exact, paired_difference, wilson
from protocols import arithmetic
from protocols.arithmetic import Chain
from training.journey_effect import arms, evaluate, run, trees

CHAIN = Chain(start=12, ops=(("*", 3), ("-", 4), ("/", 2)), level=2)  # 12 -> 36 -> 32 -> 16


def test_verifier_on_planted_steps():
    assert CHAIN.steps() == ["Step 1: 12 * 3 = 36", "Step 2: 36 - 4 = 32", "Step 3: 32 / 2 = 16"]
    assert arithmetic.check_step(CHAIN, 1, "Step 1: 12 * 3 = 36", 12).correct
    assert arithmetic.check_step(CHAIN, 2, " Step 2:  36 - 4 = 32 ", 36).correct  # spacing is not an error
    slip = arithmetic.check_step(CHAIN, 1, "Step 1: 12 * 3 = 38", 12)
    assert (slip.correct, slip.value, slip.reason) == (False, 38, "12 * 3 is 36, not 38")
    wrong_op = arithmetic.check_step(CHAIN, 2, "Step 2: 36 + 4 = 40", 36)
    assert not wrong_op.correct and wrong_op.reason == "the problem says subtract 4 here, not add 4"
    carried = arithmetic.check_step(CHAIN, 2, "Step 2: 38 - 4 = 34", 36)  # right arithmetic on a wrong value
    assert not carried.correct and "start from 36" in carried.reason
    assert not arithmetic.check_step(CHAIN, 3, "Step 3: 33 / 2 = 16", 33).correct  # inexact division
    assert not arithmetic.check_step(CHAIN, 2, "the answer is 32", 36).correct
    assert not arithmetic.check_step(CHAIN, 4, "Step 4: 16 + 1 = 17", 16).correct  # past the last operation
    assert arithmetic.final_answer("Step 1: ...\nAnswer: 7\nAnswer: 16") == 16
    assert arithmetic.final_answer("no answer line") is None


def test_size_files_read_and_bad_ones_are_refused(tmp_path):
    assert run.read_size(run.RECIPE / "full.yaml").main_seeds == (0, 1)
    assert run.read_size(run.RECIPE / "ci.yaml").sweep == ()
    bad = tmp_path / "bad.yaml"
    bad.write_text((run.RECIPE / "ci.yaml").read_text().replace("samples: 2", "samples: 2.5"))
    with pytest.raises(ValueError, match="samples must be an integer"):
        run.read_size(bad)
    bad.write_text("tree_problems: 3\n")
    with pytest.raises(ValueError, match="expected exactly the keys"):
        run.read_size(bad)
    assert run.main(["--config", str(bad), "--out", str(tmp_path / "out")]) == 2


def test_generated_chains_stay_in_integers_and_splits_are_disjoint():
    size = run.Size(phase1_per_level=30, phase1_epochs=1, dev_per_level=10, tree_problems=60, samples=2,
                    test_problems=50, arm_epochs=1, batch_size=4, max_new_tokens=64, main_seeds=(0,), sweep=())
    parts = run.splits(size, level=3)
    keys = {name: {chain.key for _, chain in rows} for name, rows in parts.items()}
    ids = {name: {pid for pid, _ in rows} for name, rows in parts.items()}
    names = list(parts)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not keys[a] & keys[b], (a, b)
            assert not ids[a] & ids[b], (a, b)
    train_grams = {g for _, c in parts["phase1"] + parts["tree"] for g in run.ngrams(c.question())}
    assert all(not run.ngrams(c.question()) & train_grams for _, c in parts["test"])
    assert len(parts["test"]) == 50 and all(c.level == 3 for _, c in parts["test"])
    for _, chain in parts["phase1"]:
        assert all(v > 0 for v in chain.values())  # apply() raised on any inexact division
        assert 3 <= len(chain.ops) <= 5
    assert run.splits(size, level=3)["test"] == parts["test"]  # seeded: reruns and resumes see the same problems


def test_injected_slip_is_wrong_by_value_and_carried_through():
    rng = random.Random(1)
    for _ in range(20):
        branch = trees.inject_slip(CHAIN, rng)
        first = arithmetic.check_step(CHAIN, branch.at, branch.lines[0], CHAIN.values()[branch.at - 1])
        assert not first.correct and first.reason == branch.reason
        value = arithmetic.STEP_RE.match(branch.lines[0])[5]
        for index, line in enumerate(branch.lines[1:], start=branch.at + 1):  # each later step uses the wrong value
            a, op, b, c = arithmetic.STEP_RE.match(line).group(2, 3, 4, 5)
            assert a == value and (op, int(b)) == CHAIN.ops[index - 1]
            assert arithmetic.apply(int(a), op, int(b)) == int(c)
            value = c
        assert branch.leaf != CHAIN.answer() and len(branch.lines) == len(CHAIN.ops) - branch.at + 1


def test_tree_growth_with_a_scripted_policy(monkeypatch):
    """Duplicates merge, wrong children grow to a leaf, a depth with no correct child falls back and is counted."""
    scripted = {
        1: ["Step 1: 12 * 3 = 36", "Step 1: 12 * 3 = 38", "Step 1:  12 * 3 = 38", "junk"],
        2: ["Step 2: 36 - 4 = 31", "Step 2: 36 - 4 = 30", "Step 2: 36 - 4 = 29", "Step 2: 36 - 4 = 31"],
        3: ["Step 3: 32 / 2 = 16"] * 4,
    }
    calls = []

    def fake_generate(lm, texts, max_new_tokens, temperature=0.0, seed=0, batch_size=None):
        calls.append((len(texts), temperature))
        if temperature > 0:
            depth = texts[0].count("Step ") + 1
            return [(line + "\nmore", 9) for line in scripted[depth]]
        # greedy continuation of wrong branches: the policy carries its own value on
        out = []
        for text in texts:
            last = text.strip().split("\n")[-1]
            index, value = int(last.split(":")[0].split()[1]), int(last.rsplit("=", 1)[1])
            lines = []
            for i in range(index + 1, 4):
                op, b = CHAIN.ops[i - 1]
                new = arithmetic.apply(value, op, b) if op != "/" or value % b == 0 else value // b
                lines.append(arithmetic.step_line(i, value, op, b, new))
                value = new
            out.append(("\n".join(lines + ["Answer: %d" % value]), 30))
        return out

    monkeypatch.setattr(trees.lmod, "generate", fake_generate)
    monkeypatch.setattr(trees.lmod, "prompt", lambda lm, question: "Q: " + question + "\n")
    [tree] = trees.grow(object(), [("t/0", CHAIN)], samples=4, temperature=1.0, seed=0)
    assert tree.path == ["Step 1: 12 * 3 = 36", "Step 2: 36 - 4 = 32", "Step 3: 32 / 2 = 16"]
    assert tree.fallback_steps == 1  # depth 2 had no correct child: the reference step was used
    assert [(b.at, b.lines[0]) for b in tree.wrong] == [(1, "Step 1: 12 * 3 = 38"), (2, "Step 2: 36 - 4 = 31"),
                                                       (2, "Step 2: 36 - 4 = 30")]  # max 2 per step, dups merged
    deep = tree.wrong[0]
    assert deep.lines == ["Step 1: 12 * 3 = 38", "Step 2: 38 - 4 = 34", "Step 3: 34 / 2 = 17"] and deep.leaf == 17
    assert sum(len(b.lines) for b in tree.wrong) / len(tree.wrong) > 1.5


def _tree(tree_id: str) -> trees.Tree:
    rng = random.Random(tree_id)
    wrong = [trees.inject_slip(CHAIN, rng) for _ in range(5)]
    return trees.Tree(tree_id, CHAIN.question(), CHAIN.answer(), CHAIN.steps(), wrong)


def test_arms_come_from_the_same_trees_and_nest():
    grown = [_tree(f"t/{i}") for i in range(40)]
    texts = {arm: arms.arm_texts(grown, arm) for arm in
             ("shortcut", "journey-k1", "journey-k2", "journey-k4", "mixed-25", "mixed-50", "mixed-75")}
    for arm, rows in texts.items():
        assert [q for q, _, _ in rows] == [t.question for t in grown], arm  # same problems, same order
        assert all(arithmetic.final_answer(s) == CHAIN.answer() for _, s, _ in rows), arm
        assert all(s.count("Answer:") == 1 for _, s, _ in rows), arm  # one final answer, wrong leaves unstated
    used = {arm: [u for _, _, u in rows] for arm, rows in texts.items()}
    assert set(used["shortcut"]) == {0}
    assert set(used["journey-k1"]) == {1} and set(used["journey-k2"]) == {2} and set(used["journey-k4"]) == {4}
    for tree in grown:  # K=1's branch is among K=2's, which are among K=4's
        assert {id(b) for b in arms.chosen_branches(tree, 1)} <= {id(b) for b in arms.chosen_branches(tree, 2)} \
            <= {id(b) for b in arms.chosen_branches(tree, 4)}
    journeys = {arm: {i for i, u in enumerate(used[arm]) if u} for arm in ("mixed-25", "mixed-50", "mixed-75")}
    assert journeys["mixed-25"] <= journeys["mixed-50"] <= journeys["mixed-75"]
    assert 0 < len(journeys["mixed-50"]) < 40
    journey = texts["journey-k2"][0][1]
    assert "Check step" in journey and "Back to step" in journey
    assert texts["shortcut"][0][1] == CHAIN.solution()


def test_behaviour_metrics_on_planted_outputs():
    recovered = "Step 1: 12 * 3 = 38\nCheck step 1: 12 * 3 is 36, not 38. Back to step 1.\nStep 1: 12 * 3 = 36\n" \
                "Step 2: 36 - 4 = 32\nStep 3: 32 / 2 = 16\nAnswer: 16"
    row = evaluate.behaviour(recovered, 16, tokens=80, max_new_tokens=384)
    assert row["backtracked"] and row["recovered"] and row["correct"] and not row["looped"] and not row["cut"]
    failed = recovered.replace("Answer: 16", "Answer: 17")
    assert evaluate.behaviour(failed, 16, 80, 384)["backtracked"] and not evaluate.behaviour(failed, 16, 80, 384)["recovered"]
    looping = "Step 1: 12 * 3 = 36\n" + "Step 2: 36 - 4 = 32\n" * 5
    row = evaluate.behaviour(looping, 16, tokens=384, max_new_tokens=384)
    assert row["looped"] and row["cut"] and not row["correct"] and row["answer"] is None
    plain = evaluate.behaviour(CHAIN.solution(), 16, 40, 384)
    assert plain["correct"] and not plain["backtracked"] and not plain["recovered"]
    assert plain["first_pass_correct"] is None and plain["checks"] == 0
    # A first pass that was right, "checked" to the same value and then changed: broken, one spurious check.
    broke = CHAIN.solution().replace("Answer: 16", "Check step 2: 36 - 4 is 32, not 32. Back to step 2.\n"
                                     "Step 2: 36 - 4 = 30\nStep 3: 30 / 2 = 15\nAnswer: 15")
    row = evaluate.behaviour(broke, 16, 90, 384)
    assert row["first_pass_correct"] is True and row["broke"] and not row["recovered"] and not row["correct"]
    assert (row["checks"], row["spurious_checks"]) == (1, 1)
    assert evaluate.behaviour(recovered, 16, 80, 384)["spurious_checks"] == 0


def test_statistics_on_hand_computed_tables():
    # Wilson, 50/100: centre 0.5, half-width 1.96*sqrt(.25/100 + 1.96^2/40000)/(1 + 1.96^2/100) = 0.0962
    low, high = wilson(50, 100)
    assert low == pytest.approx(0.4038, abs=1e-4) and high == pytest.approx(0.5962, abs=1e-4)
    # McNemar exact, b=10 c=2: 2 * (C(12,0) + C(12,1) + C(12,2)) / 2^12 = 2 * 79 / 4096
    assert mcnemar_exact(10, 2) == pytest.approx(158 / 4096)
    assert mcnemar_exact(5, 5) == 1.0 and mcnemar_exact(0, 0) == 1.0
    a = [True] * 30 + [True] * 10 + [False] * 2 + [False] * 58  # both 30, only a 10, only b 2, neither 58
    b = [True] * 30 + [False] * 10 + [True] * 2 + [False] * 58
    paired = paired_difference(a, b)
    assert (paired.both, paired.only_a, paired.only_b, paired.neither) == (30, 10, 2, 58)
    assert paired.difference == pytest.approx(0.08) and paired.p_value == pytest.approx(158 / 4096)
    assert paired.low < 0.08 < paired.high and -1 <= paired.low and paired.high <= 1
    assert 0 < paired.low  # p < 0.05: the interval excludes 0 too
    swapped = paired_difference(b, a)
    assert swapped.low == pytest.approx(-paired.high) and swapped.high == pytest.approx(-paired.low)
    same = paired_difference(a, a)
    assert same.difference == 0 and same.p_value == 1.0 and same.low <= 0 <= same.high
    with pytest.raises(ValueError):
        paired_difference([True], [True, False])
    assert not math.isnan(paired_difference([True] * 5, [True] * 5).low)


def test_arithmetic_problem_sets_are_registered_and_disjoint():
    from protocols import problems

    test = problems.load("arith_chain_test", limit=50)
    train = problems.load("arith_chain_train")
    assert len(train) == problems.ARITH_SIZE and test[0].source == "arith_chain_test"
    assert not {p.question for p in test} & {p.question for p in train}
    assert arithmetic.final_answer(test[0].meta["solution"]) == int(test[0].answer)
    assert problems.load("arith_chain_L4_test", limit=1)[0].meta["level"] == 4
    with pytest.raises(problems.ProblemSetError, match="no such arithmetic level"):
        problems.load("arith_chain_L9_test")


def test_report_has_the_journey_section_from_results_files_alone(tmp_path):
    import json

    from eval.report import write_report

    results = tmp_path / "results"
    results.mkdir()
    for arm, flags in (("shortcut", [True] * 8 + [False] * 2), ("journey-k2", [True] * 5 + [False] * 5)):
        per = [{"id": f"p{i}", "gold": 16, "answer": 16 if ok else 15, "correct": ok, "backtracked": arm != "shortcut",
                "looped": False, "cut": False, "tokens": 60, "output": CHAIN.solution()} for i, ok in enumerate(flags)]
        (results / f"{arm}-s0.json").write_text(json.dumps({
            "experiment": "journey-effect", "arm": arm, "seed": 0, "level": 1, "trees": {}, "data": {},
            "accuracy": sum(flags) / 10, "per_problem": per}))
    report = write_report([tmp_path], tmp_path / "report").read_text()
    assert "## Journey effect" in report
    assert "| journey-k2 | 0 | 50.0 [" in report and "-30.0 [" in report  # paired Δ vs the same seed's shortcut
    assert (tmp_path / "report" / "accuracy_vs_k.png").is_file()
