import pytest

from agents.calls.client import LLMClient
from agents.roles.reward import HFPRMScorer, LLMJudgeScorer, RolloutScorer, make_scorer, parse_judgement
from protocols.types import Problem
from tests.fakes import ScriptedLLM

PROBLEM = Problem(id="p", question="2x = 8. What is x?", answer="4")


@pytest.mark.parametrize(
    "text,correct",
    [
        ('{"correct": true, "reason": "8 / 2 = 4"}', True),
        ('Sure. {"correct": false, "reason": "2 * 3 is 6"}', False),
        ("Verdict: incorrect. The sum is off.", False),
        ("The step is not correct because ...", False),
        ("Yes, this step is correct.", True),
        ("I cannot tell.", None),
    ],
)
def test_parse_judgement(text, correct):
    assert parse_judgement(text)[0] is correct


async def test_llm_judge_scores_and_keeps_the_reason():
    judge = ScriptedLLM(judge=['{"correct": false, "reason": "2 * 3 is 6"}'])
    score = await LLMJudgeScorer(judge).score(PROBLEM, ["x = 3"])
    assert (score.value, score.correct, score.reason) == (0.0, False, "2 * 3 is 6")
    assert "x = 3" in judge.prompts["judge"][0][-1]["content"]


async def test_rollout_scores_the_share_that_reaches_the_gold_answer():
    rollouts = ScriptedLLM(scorer=["so x = \\boxed{4}"])
    texts = iter(["\\boxed{4}", "\\boxed{3}", "\\boxed{4}", "no idea"])

    async def complete(messages, *, n=1, role="default", **kwargs):
        completion = await ScriptedLLM.complete(rollouts, messages, n=n, role=role)
        return completion.__class__(**{**completion.__dict__, "texts": [next(texts) for _ in range(n)]})

    rollouts.complete = complete
    score = await RolloutScorer(rollouts, rollouts=4).score(PROBLEM, ["Divide by 2."])
    assert score.value == 0.5 and "2/4" in score.note and not score.reason


async def test_rollout_needs_a_gold_answer():
    with pytest.raises(ValueError, match="needs a gold answer"):
        await RolloutScorer(ScriptedLLM()).score(Problem(id="u", question="?"), ["x"])


@pytest.fixture(scope="module")
def tiny_prm(tmp_path_factory):
    """A randomly initialised Llama PRM with a word-level tokenizer, built here: the code path real PRMs use."""
    import torch
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    words = ["[UNK]", "[PAD]", "+", "-", "ки", "Step", "1", "2", "3", ":", "x", "=", "4", "8", "What", "is", "?", "."]
    backend = Tokenizer(WordLevel({word: i for i, word in enumerate(words)}, unk_token="[UNK]"))
    backend.pre_tokenizer = Whitespace()
    folder = tmp_path_factory.mktemp("tiny-prm")
    PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]", pad_token="[PAD]").save_pretrained(folder)
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(words), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=128)
    LlamaForCausalLM(config).save_pretrained(folder)
    return str(folder)


async def test_hf_prm_scores_the_good_token_probability(tiny_prm):
    scorer = HFPRMScorer(tiny_prm)
    first = await scorer.score(PROBLEM, ["x = 4"])
    again = await scorer.score(PROBLEM, ["x = 4"])
    other = await scorer.score(PROBLEM, ["x = 4", "x = 8 ."])
    assert 0.0 < first.value < 1.0 and first.value == again.value
    assert other.value != first.value  # the score is read at the newest step's tag


def test_hf_prm_rejects_a_multi_token_label(tiny_prm):
    with pytest.raises(ValueError, match="single token"):
        HFPRMScorer(tiny_prm, good_token="+ +")


def test_make_scorer_errors_are_clear():
    with pytest.raises(ValueError, match="needs --prm-model"):
        make_scorer("hf-prm")
    with pytest.raises(ValueError, match="unknown scorer 'magic'"):
        make_scorer("magic")


@pytest.mark.slow
async def test_llm_judge_on_the_embedded_model(embedded_api_base):
    score = await LLMJudgeScorer(LLMClient(), max_tokens=48).score(PROBLEM, ["Divide both sides by 2: x = 4."])
    assert score.value in (0.0, 0.5, 1.0) and score.reason
