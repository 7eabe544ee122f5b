"""DPO never picks a looping answer as "chosen", even when its final answer is right; the exclusion is counted."""

from agents.roles.sampling import sample_and_judge
from protocols.types import Problem, Sample, SampleSet
from training.sample import make_pairs

PROBLEM = Problem(id="p", question="What is 2 + 3?", answer="5")
LOOP = "2 + 3 = 5, so the answer is $\\boxed{5}$. " + "Let me double check: 2 + 3 = 5. " * 60


def test_a_looping_right_answer_is_never_chosen_and_is_counted():
    clean = Sample(text="2 + 3 = 5. \\boxed{5}", answer="5", correct=True, finish_reason="stop")
    looping = Sample(text=LOOP, answer="5", correct=True, finish_reason="stop")  # flag not stored: read from text
    wrong = [Sample(text=f"\\boxed{{{n}}}", answer=str(n), correct=False, finish_reason="stop") for n in (4, 6)]
    sets = [SampleSet(problem_id="p", problem=PROBLEM, model="m", samples=[looping, clean, *wrong])]
    for seed in range(20):  # whatever the draw, the loop is never the chosen side
        pairs, stats = make_pairs(sets, pairs=5, seed=seed)
        assert {chosen for _, chosen, _ in pairs} == {clean.text} and len(pairs) == 1
        assert stats.looping_excluded == 1
    # the stored flag wins over the text: a sample flagged looping is excluded too
    flagged = clean.model_copy(update={"repetition": True})
    _, stats = make_pairs([SampleSet(problem_id="p", problem=PROBLEM, model="m", samples=[flagged, *wrong])], pairs=5)
    assert stats.no_positive == 1 and stats.looping_excluded == 1


async def test_sampling_flags_each_sample(stub_server, monkeypatch):
    from agents.calls.client import LLMClient, LLMConfig
    from tests.conftest import chat_completion_body

    monkeypatch.setenv("LONGTHOUGHT_TEST_KEY", "sk-test-not-a-real-key")
    body = chat_completion_body("The sum is $\\boxed{5}$.", n=2)
    body["choices"][1]["message"]["content"] = LOOP
    with stub_server([(200, body)]) as server:
        llm = LLMClient(LLMConfig(model="openai/stub", api_base=server.api_base, api_key_env="LONGTHOUGHT_TEST_KEY"))
        result = await sample_and_judge(PROBLEM, llm, n=2, temperature=0.7, max_tokens=64)
    assert [sample.repetition for sample in result.samples] == [False, True]
    assert [sample.correct for sample in result.samples] == [True, True]  # right, yet the second loops


async def test_synthesis_records_count_their_looping_replies(stub_server, monkeypatch):
    from agents.calls.client import LLMClient, LLMConfig
    from protocols.loop import LoopState
    from protocols.types import Action, Verdict
    from synthesis.episode import build_record
    from tests.conftest import chat_completion_body

    monkeypatch.setenv("LONGTHOUGHT_TEST_KEY", "sk-test-not-a-real-key")
    with stub_server([(200, chat_completion_body(LOOP)), (200, chat_completion_body("fine"))]) as server:
        parent = LLMClient(LLMConfig(model="openai/stub", api_base=server.api_base, api_key_env="LONGTHOUGHT_TEST_KEY"))
        policy = parent.scoped()
        await policy.complete([{"role": "user", "content": "go"}], role="policy")
        await policy.complete([{"role": "user", "content": "go"}], role="policy")
    assert policy.looping_replies == parent.looping_replies == 1
    state = LoopState(has_gold_answer=True)
    state.add_step(LOOP, answer="5", correct=True)
    state.apply(Verdict(action=Action.TERMINATE))
    record = build_record(PROBLEM, "debate", state, {"policy": policy})
    assert record.meta["looping_replies"] == 1
