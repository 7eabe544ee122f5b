"""The usage table a run prints at its end: a row per role and model, a client shared by roles counted once."""


def test_the_usage_table_has_a_row_per_role_and_model_and_counts_a_shared_client_once():
    from rich.console import Console

    from agents.calls.client import LLMClient
    from protocols.types import Usage
    from synthesis.engine.cli import usage_table
    from synthesis.engine.store import role_model_usage

    judge, policy = LLMClient(model="oracle/reference"), LLMClient(model="hosted_vllm/qwen")
    judge.usage["scorer"] = Usage(calls=4, prompt_tokens=4000, completion_tokens=120, cost=0.01)
    judge.usage["rewrite"] = Usage(calls=1, prompt_tokens=900, completion_tokens=300, cost=None)
    policy.usage["policy"] = Usage(calls=12, prompt_tokens=1200, completion_tokens=1000, cache_hits=2,
                                   cached_completion_tokens=200, retries=1)
    rows = role_model_usage({"scorer": judge, "rewrite": judge, "policy": policy, "idle": LLMClient(model="m")})
    assert [(row.role, row.model, row.usage.calls) for row in rows] == [
        ("rewrite", "oracle/reference", 1), ("scorer", "oracle/reference", 4), ("policy", "hosted_vllm/qwen", 12)]
    console = Console(width=100, record=True)
    console.print(usage_table(rows, elapsed_s=10.0))
    lines = console.export_text().splitlines()
    policy_line = next(line for line in lines if line.startswith("policy"))
    # 800 completion tokens generated (200 replayed from the cache) over 10 s; thousands separated.
    assert "12 (2 cached) (1 retried)" in policy_line and "1,200" in policy_line and " 80.0 " in policy_line
    assert next(line for line in lines if line.startswith("rewrite")).rstrip().endswith("unknown")
    assert next(line for line in lines if line.startswith("scorer")).rstrip().endswith("$0.0100")
