"""The template/model split counts what the oracle (or our code) wrote around the steps as template."""

import random

from agents.backends.oracle.expansion import expand
from agents.backends.oracle import expansion, prose
from agents.backends.oracle.rewriter import rewrite
from eval.template_split import ANNOTATION_OPENERS, ORACLE_CONNECTIVES, ORACLE_PHRASES, _phrase, template_text
from eval.thoughts import measure
from protocols.annotation import DRAFT_OPENERS
from protocols.rehearsal import META_KEY
from protocols.types import Problem, Record, ThoughtTree

PROBLEM = Problem(id="p/1", question="Janet sells 16 - 3 - 4 eggs at $2 each. How much does she make?", answer="18")
NOTES = ("Let me try this.\nJanet sells 16 - 3 - 4 = 19 eggs.\n\nWait.\nI wrote 19 where it should be 9.\n\n"
         "That was wrong; let me correct it.\nJanet sells 16 - 3 - 4 = 9 eggs.\nShe makes 9 * 2 = 18 dollars.\n\n"
         "So the final answer is:\n\\boxed{18}")


def _record(attempt: str, text: str, roles: list[str], **meta) -> Record:
    return Record(problem_id=PROBLEM.id, attempt=attempt, problem=PROBLEM, tree=ThoughtTree(), long_thought=text,
                  final_answer="18", correct=True, stop_reason="expanded", meta={META_KEY: roles, **meta})


def test_the_oracle_banks_agree_with_the_split():
    counted = {regex.pattern for regex, _ in ORACLE_PHRASES}
    sentences = [*expansion.SENTENCES, *prose.NOT_FINAL]
    as_phrases = [sentence.format("{}") if "{}" in sentence or "{{{}}}" in sentence
                  else sentence.format(new="{}", old="{}") if "{new}" in sentence else sentence
                  for sentence in sentences]
    assert [text for text in as_phrases if _phrase(text)[0].pattern not in counted] == []
    assert set(prose.CONNECTIVES) <= set(ORACLE_CONNECTIVES)
    openers = {regex.pattern for regex, _ in ANNOTATION_OPENERS}
    assert [text for text in DRAFT_OPENERS.values() if _phrase(text)[0].pattern not in openers] == []


def test_oracle_expansion_sentences_are_template_not_model_words():
    for seed in range(8):
        text = expand(NOTES, random.Random(seed))
        oracle = measure(text, _record("human_annotation", text, ["expander"], rewrite_faithful=True))
        # every "wait" and "let me" of an oracle expansion is the oracle's bank, none the (person's) notes'
        assert oracle.model_keywords["wait"] == oracle.model_keywords["let me"] == 0, text
        # the same text from a real expander is the model's own words
        model = measure(text, _record("human_annotation", text, [], rewrite_faithful=True))
        assert model.template_keywords["wait"] + model.template_keywords["let me"] == 0
        assert oracle.template_keywords["wait"] + oracle.template_keywords["let me"] >= 1 or "wait" not in text.lower()


def test_the_draft_openers_of_an_annotation_are_template():
    found = template_text(_record("human_annotation", NOTES, [], rewrite_faithful=False))
    assert found.method == "draft"
    assert sorted(found.text.splitlines()) == sorted(["Let me try this.", "Wait.", "That was wrong; let me correct it.",
                                                      "So the final answer is:"])


def test_oracle_rewrite_connectives_are_template_where_they_open_a_step():
    lines = ["1. We add 16 and 3 to get 19.", "2. We subtract 4 to get 15.", "3. We double it to get 30.",
             "So the final answer is $\\boxed{30}$."]
    texts = {rewrite(lines, random.Random(seed)) for seed in range(20)}
    assert len(texts) > 2
    for text in texts:
        record = _record("tree_search", text, ["policy", "rewriter"], rewrite=text)
        found = template_text(record)
        used = [connective.strip(" ,") for connective in ORACLE_CONNECTIVES if f". {connective}" in text]
        assert found.method == "oracle-rewrite-phrases"
        assert sorted(line for line in found.text.splitlines() if line in used) == sorted(used), text
        assert "We add 16" not in found.text
