"""The oracle model: reference steps, every role through litellm, its variants, and its annotations."""

import json

import pytest

from agents.backends.oracle import provider
from agents.backends.oracle.annotations import annotation_text
from agents.backends.oracle.reference import reference_for, seeded, wrong_variant
from agents.calls.client import LLMClient, LLMError
from prompts import question_messages, render
from protocols.annotation import parse
from protocols.answers import extract_answer
from protocols.problems import load
from protocols.types import Problem

SOLUTION = ("Subtracting 3 from both sides gives $2x = 8$.  Dividing both sides by 2 gives $x = 4$.  "
            "Checking, $2 \\cdot 4 + 3 = 11$, so the answer is $\\boxed{4}$.")
PROBLEM = Problem(id="oracle/1", question="Solve 2x + 3 = 11 for x.", answer="4", source="unit",
                  meta={"solution": SOLUTION})
# A word problem whose every step computes something: each offers an error that is wrong by value.
EGGS = Problem(id="oracle/eggs", question="Janet's ducks lay 16 eggs a day. She eats 3 and bakes with 4. She sells "
               "the rest at $2 each, and spends $5 a day on feed. How much does she keep each day?", answer="13",
               source="gsm8k_unit", meta={"solution": "Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 eggs a day.\n"
                                                      "She makes 9 * 2 = $<<9*2=18>>18 a day.\n"
                                                      "She keeps 18 - 5 = $<<18-5=13>>13 a day.\n#### 13"})


@pytest.fixture(autouse=True)
def _known_problem():
    provider.remember([PROBLEM, EGGS])


def test_model_strings():
    assert provider.parse_model("oracle/reference").behaviour.error_rate == 0
    spec = provider.parse_model("oracle/reference-e30-lossy-reasoning")
    assert (spec.behaviour.error_rate, spec.behaviour.lossy, spec.reasoning) == (0.3, True, True)
    with pytest.raises(provider.OracleError, match="unknown suffix -e30x"):
        provider.parse_model("oracle/reference-e30x")


def test_reference_steps_state_the_answer_only_at_the_end(with_data_dir):
    for problem in load("math500"):
        reference = reference_for(problem)
        steps = reference.steps()
        assert 1 <= len(steps) <= 12 and all("\n" not in step for step in steps)
        assert [extract_answer(step) for step in steps[:-1]] == [None] * (len(steps) - 1), problem.id
        assert extract_answer(steps[-1]) == reference.answer


def test_wrong_variants_use_numbers_absent_from_the_solution():
    reference = reference_for(PROBLEM)
    for seed in range(30):
        text, slip = wrong_variant(reference, 2, seeded(seed))
        assert text != reference.step(2) and slip.new not in reference.numbers()
    text, slip = wrong_variant(reference, len(reference), seeded(0))
    assert slip.kind == "answer" and extract_answer(text) != "4"


async def _ask(model: str, messages: list[dict], **sampling) -> list[str]:
    completion = await LLMClient(model=model).complete(messages, **sampling)
    assert completion.prompt_tokens > 0 and completion.completion_tokens > 0 and completion.cost == 0.0
    return completion.texts


async def test_the_policy_writes_the_next_reference_step_and_errs_at_its_rate():
    prompt = render("debate/policy_user", question=EGGS.question, steps=[], feedback=None, next_index=1)
    (text,) = await _ask("oracle/reference", [{"role": "user", "content": prompt}])
    assert text == "1. " + reference_for(EGGS).step(1)
    wrong = 0
    for seed in range(200):
        (text,) = await _ask("oracle/reference-e30", [{"role": "user", "content": prompt}], seed=seed)
        wrong += text != "1. " + reference_for(EGGS).step(1)
    # 30% a step, but a two-step solution's first pass must hold an error 75% of the time: 50% a step here
    assert 80 <= wrong <= 120


async def test_n_samples_differ_and_rollouts_end_in_a_boxed_answer():
    texts = await _ask("oracle/reference-e30", question_messages(PROBLEM.question), n=40, seed=1)
    answers = [extract_answer(text) for text in texts]
    assert None not in answers and "4" in answers
    texts = await _ask("oracle/reference-e30", question_messages(EGGS.question), n=40, seed=1)
    answers = [extract_answer(text) for text in texts]
    assert None not in answers and "13" in answers and len(set(texts)) > 1


async def test_the_critic_names_the_first_wrong_step_in_the_first_person():
    reference = reference_for(PROBLEM)
    wrong, slip = wrong_variant(reference, 1, seeded(3))
    steps = [type("S", (), {"index": 1, "text": wrong})()]
    new = type("S", (), {"index": 2, "text": reference.step(2)})()
    prompt = render("debate/critic_user", question=PROBLEM.question, steps=steps, new_step=new, answer=None,
                    gold_answer=None, answer_signal=None)
    (text,) = await _ask("oracle/reference", [{"role": "system", "content": render("debate/critic_system")},
                                                {"role": "user", "content": prompt}])
    assert text.startswith("ACTION: backtrack to 1\nREASON: I ") and slip.new in text


async def test_the_judge_answers_json():
    reference = reference_for(PROBLEM)
    prompt = render("tree_search/judge", question=PROBLEM.question, steps=[], step=reference.step(1), index=1)
    (text,) = await _ask("oracle/reference", [{"role": "user", "content": prompt}])
    assert json.loads(text) == {"correct": True, "score": 1.0, "reason": "This step follows from the ones before it."}


async def test_rewrites_use_latex_and_the_lossy_variant_drops_the_wrong_step():
    reference = reference_for(PROBLEM)
    wrong, _ = wrong_variant(reference, 2, seeded(5))
    draft = f"1. {reference.step(1)}\n\n2. {wrong}\n\nThat is wrong. Let me go back to step 2 and redo it.\n\n" \
            f"2. {reference.step(2)}\n\n3. {reference.step(3)}"
    prompt = render("tree_search/rewrite", question=PROBLEM.question, draft=draft)
    (faithful,) = await _ask("oracle/reference", [{"role": "user", "content": prompt}])
    (lossy,) = await _ask("oracle/reference-lossy", [{"role": "user", "content": prompt}])
    assert "\\cdot" in faithful and wrong.split()[-1] in faithful and faithful.endswith("$\\boxed{4}$.")
    assert wrong.split()[-1] not in lossy and lossy.endswith("$\\boxed{4}$.")


async def test_the_reasoning_variant_returns_nothing_under_a_small_budget():
    prompt = render("tree_search/judge", question=PROBLEM.question, steps=[], step="x = 4", index=1)
    small = await LLMClient(model="oracle/reference-reasoning").complete([{"role": "user", "content": prompt}],
                                                                         max_tokens=256)
    assert small.texts == [""] and small.finish_reasons == ["length"] and small.completion_tokens == 256
    large = await LLMClient(model="oracle/reference-reasoning").complete([{"role": "user", "content": prompt}],
                                                                         max_tokens=4096)
    assert json.loads(large.text)["correct"] is False and large.completion_tokens > provider.HIDDEN_REASONING_TOKENS


async def test_an_unknown_problem_or_prompt_is_one_clear_error(monkeypatch):
    monkeypatch.setattr(provider, "_SEARCHED_SETS", ())
    monkeypatch.delenv(provider.PROBLEMS_ENV, raising=False)
    with pytest.raises(LLMError, match="no problem with a reference solution"):
        await LLMClient(model="oracle/reference").complete([{"role": "user", "content": "Write step 1 only. Problem: ?"}])
    with pytest.raises(LLMError, match="cannot tell which role"):
        await LLMClient(model="oracle/reference").complete([{"role": "user", "content": PROBLEM.question}])


def test_annotations_parse_with_one_wrong_attempt(with_data_dir):
    for problem in load("math500", limit=40):
        annotation, issues = parse(annotation_text(problem, "math500"), problem.id)
        assert issues == [] and annotation.final_answer == reference_for(problem).answer
        corrections = [block for block in annotation.blocks if block.marker == "correction"]
        assert len(corrections) == 1 and corrections[0].target is not None


def test_concurrent_lookups_wait_for_a_set_being_loaded_instead_of_missing_it(monkeypatch):
    # A set is "loaded" only once its problems are findable: before, a second thread saw the set marked loaded
    # while the first was still reading it, and failed the problem (1 of 20 MATH500 problems in CI).
    import threading
    import time

    import protocols.problems

    problem = Problem(id="slow/1", question="What is the slowly loaded answer to this question?", answer="7",
                      meta={"solution": "It is $\\boxed{7}$."})

    def slow_load(name, **_):
        if name != "slowset":
            raise protocols.problems.ProblemSetError(f"{name}: not here")
        time.sleep(0.5)
        return [problem]

    monkeypatch.setattr(protocols.problems, "load", slow_load)
    monkeypatch.setattr(provider, "_known", {})
    monkeypatch.setattr(provider, "_loaded_sets", set())
    monkeypatch.setenv(provider.PROBLEMS_ENV, "slowset")
    found = []
    threads = [threading.Thread(target=lambda: found.append(provider.find_problem(f"Problem: {problem.question}")))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [hit.id if hit else None for hit in found] == ["slow/1"] * 4


def test_a_copy_without_a_solution_registered_first_does_not_hide_the_one_with_it(monkeypatch):
    # CI failed test/intermediate_algebra/1197 in the 20-problem fidelity suite only when the whole suite ran: an
    # earlier run in the same process had registered the problem without its solution, and the run's own copy (same
    # id, with the solution) was skipped as already known.
    monkeypatch.setattr(provider, "_known", {})
    monkeypatch.setattr(provider, "_loaded_sets", {"math500", *provider._SEARCHED_SETS})
    monkeypatch.delenv(provider.PROBLEMS_ENV, raising=False)
    question = "Let $p(x)$ be a polynomial of degree 5 such that p(2) = 1. Find p(8)."
    bare = Problem(id="test/x/1197.json", question=question, answer="3")
    full = Problem(id="test/x/1197.json", question=question, answer="3", meta={"solution": "So $\\boxed{3}$."})
    provider.remember([bare])
    provider.remember([full])
    assert provider.find_problem(f"Problem: {question}") is full
    provider.remember([bare])  # a bare copy again never replaces the full one
    assert provider.find_problem(f"Problem: {question}") is full
