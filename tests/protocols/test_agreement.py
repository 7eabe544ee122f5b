"""The second verifier: math-verify's own extraction beside ours; DPO keeps a sample only when both agree."""

from protocols.agreement import agreeing_samples, verdicts
from protocols.types import Problem, Sample, SampleSet


def test_math_verify_reads_latex_not_prose_and_never_a_hostile_text():
    golds = ["12", "\\frac{1}{2}", "12", "12", "12"]
    texts = ["so $\\boxed{12}$", "$0.5$", "The answer is 12", "\\boxed{13}", "{" * 100 + "12" + "}" * 100]
    ours, second = verdicts(golds, ["12", "0.5", "12", "13", texts[4]], texts)
    assert ours == [True, True, True, False, False]
    assert second == [True, True, False, False, False]


def test_dpo_samples_are_kept_only_where_both_checkers_agree():
    problem = Problem(id="p", question="7 + 5?", answer="12")
    samples = [Sample(text="$\\boxed{12}$", answer="12", correct=True),
               Sample(text="The answer is 12", answer="12", correct=True),  # ours yes, math-verify no
               Sample(text="$\\boxed{13}$", answer="13", correct=False)]
    (kept,), counts = agreeing_samples([SampleSet(problem_id="p", problem=problem, model="m", samples=samples)])
    assert [sample.text for sample in kept.samples] == ["$\\boxed{12}$", "$\\boxed{13}$"]
    assert counts == {"checked": 3, "kept": 2, "both_accept": 1, "only_ours": 1, "only_math_verify": 0}
