"""--max-concurrency sets the calls in flight of every role, or of one role by name."""

from synthesis.engine import Run, RunConfig


def test_max_concurrency_sets_each_roles_call_limit(tmp_path):
    from agents.calls.client import LLMClient

    clients = {"policy": LLMClient(model="openai/a"), "critic": LLMClient(model="openai/b")}
    run = Run("debate", RunConfig(out=str(tmp_path), max_concurrency=["3", "critic=16"]), None, clients, {})
    assert run.clients["policy"].config.concurrency() == 3  # a bare N is every role without its own
    assert run.clients["critic"].config.concurrency() == 16
    untouched = Run("debate", RunConfig(out=str(tmp_path)), None, clients, {})
    assert untouched.clients["critic"] is clients["critic"] and untouched.clients["critic"].config.concurrency() == 8
