"""Decontamination and deduplication: a planted, lightly rephrased MATH500 problem and planted duplicates are caught,
and what is not contaminated is kept."""

import json

import pytest

from protocols.contamination import DecontaminationConfig, Item, decontaminate
from protocols.data_checks import check_rows
from protocols.dedup import DedupConfig, deduplicate
from protocols.ngrams import NgramIndex, ngrams, words
from protocols.problems import load

# MATH500's test/algebra/1425.json-style problem, rephrased: a new opening, a word swapped, the question reworded.
UNRELATED = "A farmer has 17 sheep and buys 5 more each week. How many sheep does the farmer own after 9 weeks?"


def _rephrase(question: str) -> str:
    """A light rephrasing: another opening, and the last sentence's first word swapped."""
    return "Here is a question for you. " + question.replace("What", "Which", 1).replace("Find", "Determine", 1)


@pytest.fixture(scope="module")
def math500(data_dir):
    import os

    os.environ.setdefault("LONGTHOUGHT_DATA_DIR", str(data_dir))
    return load("math500")


def test_normalisation_keeps_signs_and_drops_formatting():
    assert words(r"If $k<0$, find $\dfrac{1}{2}$.") == ["if", "k", "<", "0", "find", "\\frac"[1:], "1", "2"]
    assert words("Compute $\\sin(-60^\\circ)$.") != words("Compute $\\sin 60^\\circ$.")


def test_coverage_counts_the_eval_texts_words_inside_shared_grams():
    index = NgramIndex(["one two three four five six seven eight nine ten"], n=4)
    assert index.coverage(0, ngrams(words("one two three four five"), 4)) == pytest.approx(0.5)  # 5 of 10 words
    assert index.best_match(ngrams(words("zero one two three four"), 4)) is None  # 4 of 10 < 0.5


def test_a_planted_rephrased_math500_problem_is_caught(math500):
    planted = next(p for p in math500 if len(words(p.question)) > 30)
    items = [Item("clean", UNRELATED), Item("planted", _rephrase(planted.question))]
    kept, report = decontaminate(items, "drop", "math500")
    assert [items[i].id for i in kept] == ["clean"]
    found = report["eval_sets"]["math500"]
    assert (found["contaminated"], found["question"]) == (1, 1)
    assert found["examples"][0]["id"] == "planted" and found["examples"][0]["question"] == planted.id
    assert report["n"] == 8 and report["dropped"] == 1


def test_report_keeps_everything_and_counts(math500):
    items = [Item("copy", math500[0].question), Item("clean", UNRELATED)]
    kept, report = decontaminate(items, "report", "math500")
    assert kept == [0, 1] and report["contaminated"] == 1 and report["dropped"] == 0
    assert decontaminate(items, "off")[0] == [0, 1]


def test_a_training_answer_that_quotes_an_eval_solution_is_caught(math500):
    problem = next(p for p in math500 if len(words(p.meta["solution"])) > 60)
    items = [Item("quoting", UNRELATED, "Let me think. " + problem.meta["solution"])]
    _, report = decontaminate(items, "report", "math500")
    assert report["eval_sets"]["math500"]["answer"] == 1 and report["eval_sets"]["math500"]["question"] == 0


def test_a_bad_setting_is_one_line():
    with pytest.raises(ValueError, match="decontaminate: expected one of drop, report, off"):
        DecontaminationConfig(decontaminate="maybe")
    with pytest.raises(ValueError, match="unknown eval set 'mmlu'"):
        DecontaminationConfig(eval_sets="math500,mmlu")
    with pytest.raises(ValueError, match="near_dup_threshold"):
        DedupConfig(near_dup_threshold=1.5)


def test_exact_and_near_duplicates_are_dropped_but_variants_with_other_answers_kept():
    base = ("A rectangle has a perimeter of 30 units and its length is twice its width. What is the area of the "
            "rectangle, in square units, when both sides are whole numbers of units?")
    near = base.replace("units?", "units exactly?")
    texts = [base, base.upper().replace(",", ""), near, base.replace("30", "36"), UNRELATED]
    result = deduplicate(texts, 0.8)  # a changed number early on moves 5 of 30 shingles: below 0.8, kept
    assert result.kept == [0, 3, 4] and (result.exact, result.near) == (1, 1)
    assert deduplicate([base, near], 0.8, labels=["50", "72"]).kept == [0, 1]  # another answer: another problem
    assert deduplicate([base, near], 0.8, labels=["50", "50"]).kept == [0]


def test_rows_of_a_dropped_problem_go_together_and_duplicate_thoughts_are_dropped(math500):
    thought = "I add the numbers step by step, check each sum twice, and conclude the total is 22 after all."
    items = [Item("a", UNRELATED, thought), Item("a", UNRELATED, "other"), Item("b", math500[3].question, "x"),
             Item("c", "What is the product of 6 and 7 when both are doubled first?", thought)]
    kept, stats = check_rows(items, DecontaminationConfig(eval_sets="math500"), DedupConfig(),
                             thoughts=[thought, "A different long thought entirely, with its own words.", "x", thought])
    assert kept == [0, 1]  # b is MATH500; c's long thought repeats a's
    assert stats["decontamination"]["eval_sets"]["math500"]["contaminated"] == 1
    assert stats["deduplication"]["long_thoughts"]["exact_duplicates"] == 1
    json.dumps(stats)  # goes into a card as JSON
