import json

import pytest

from agents import backends
from agents.backends import Backend, backend_for, local_folder, register, serving_string, unregister
from agents.backends.custom_provider import LocalProvider, fill, install
from agents.backends.litellm_router import RouterSpec
from agents.calls.client import LLMClient, LLMConfig
from agents.calls.reasoning import is_reasoning_model


class ToyProvider(LocalProvider):
    """litellm provider `toy`: a policy that writes the right step at once and a critic that ends the debate."""

    def respond(self, model, messages, model_response, optional_params):
        text = "ACTION: terminate\nREASON: right" if "critic" in model else "1. 2 + 3 = \\boxed{5}"
        return fill(model_response, f"toy/{model.removeprefix('toy/')}", [(text, "stop")], 20, 5)


class ToyBackend(Backend):
    """`toy/...`: what a new backend is -- a prefix, how to reach it, and what it answers differently."""

    prefix = "toy/"
    name = "toy"

    def __init__(self):
        self.prepared: list[tuple[list[str], str]] = []

    def route(self, config):
        install("toy", ToyProvider)
        return super().route(config)

    def free(self, model):
        return True

    def replayable(self, model):
        return False

    def prepare_run(self, problems, source):
        self.prepared.append(([problem.id for problem in problems], source))


@pytest.fixture
def toy():
    backend = register(ToyBackend())
    yield backend
    unregister(backend)


@pytest.mark.parametrize(("model", "name"), [
    ("openai/gpt-4o-mini", "litellm"), ("embedded/smollm2-135m", "embedded"), ("gguf/x.gguf", "gguf"),
    ("hf/runs/sft/final", "hf"), ("oracle/reference-e30", "oracle"), ("runs/sft/final", "litellm"),
])
def test_each_kind_of_string_has_one_backend(model, name):
    assert backend_for(model).name == name


def test_the_longest_prefix_answers_and_a_router_name_before_any_prefix(toy):
    deep = register(type("Deep", (ToyBackend,), {"prefix": "toy/deep/", "name": "deep"})())
    try:
        assert backend_for("toy/deep/x") is deep and backend_for("toy/x") is toy
    finally:
        unregister(deep)
    spec = RouterSpec(source="r.yaml", model_list=[{"model_name": "toy/x", "litellm_params": {"model": "openai/a"}}])
    assert backend_for("toy/x", spec).name == "router" and backend_for("toy/y", spec) is toy


def test_what_the_built_in_backends_answer():
    assert backend_for("oracle/reference").free("oracle/reference") and not backend_for("openai/x").free("openai/x")
    assert not backend_for("oracle/reference").replayable("oracle/reference")
    assert is_reasoning_model("oracle/reference-e30-reasoning") and not is_reasoning_model("oracle/reference")
    assert backend_for("hf/x").in_process("hf/x") and not backend_for("embedded/smollm2-135m").in_process("e")
    assert LLMConfig(model="openai/x").concurrency() == backends.DEFAULT_CONCURRENCY
    assert LLMConfig(model="openai/x", max_concurrency=3).concurrency() == 3
    assert backend_for("hf/runs/a/final").checkpoint("hf/runs/a/final") == "runs/a/final"
    assert backend_for("embedded/smollm2-135m").checkpoint("embedded/smollm2-135m") is None
    # Training starts from a folder; the trained model samples through a string that serves that folder.
    assert local_folder("runs/a/final") == "runs/a/final" == local_folder("hf/runs/a/final")
    assert serving_string("runs/a/final") == "hf/runs/a/final"
    assert serving_string("embedded/smollm2-135m") == "embedded/smollm2-135m"
    assert serving_string("hf/runs/a/final") == "hf/runs/a/final"


async def test_a_client_reaches_a_registered_backend_and_asks_it_about_cost_and_cache(toy, tmp_path):
    client = LLMClient(LLMConfig(model="toy/policy", cache_dir=tmp_path / "cache"))
    completion = await client.complete([{"role": "user", "content": "2 + 3?"}])
    assert completion.text == "1. 2 + 3 = \\boxed{5}" and completion.cost == 0.0
    assert client._cache is None  # not replayable: nothing is cached


def test_a_debate_runs_end_to_end_on_a_toy_backend(toy, tmp_path):
    from synthesis import debate

    problems = tmp_path / "problems.jsonl"
    problems.write_text("".join(json.dumps({"id": f"add-{index}", "problem": "What is $2 + 3$?", "answer": "5"}) + "\n"
                                for index in range(2)))
    out = tmp_path / "run"
    assert debate.main(["--problems", str(problems), "--out", str(out), "--policy-model", "toy/policy",
                        "--critic-model", "toy/critic", "--max-turns", "2", "--decontaminate", "off"]) == 0
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert sorted(record["problem_id"] for record in records) == ["add-0", "add-1"]
    assert all(record["correct"] and record["stop_reason"] == "terminated" for record in records)
    assert all(usage["cost"] == 0.0 for record in records for usage in record["usage"].values())
    # The engine handed the run's problems to the backend once, before the first call.
    assert toy.prepared == [(["add-0", "add-1"], str(problems.resolve()))]
