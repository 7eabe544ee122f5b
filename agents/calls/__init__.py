"""The call layer: one async `LLMClient` (client.py) and everything that wraps a model call.

Its settings (config.py) and the per-role flag block with the one client factory (model_role.py); retries, timeouts,
usage and cost (client.py, usage_check.py) and the errors a call ends with (errors.py); the replay cache (cache.py);
one concurrency gate per model (gate.py); key redaction (redact.py); the reply's byte cap (reply_cap.py); the reply
guard and reasoning budgets (reply_guard.py, reasoning.py); the autogen adapter (autogen_client.py); `python -m
agents.llm` (cli.py). What a model string means is the backends' business (agents.backends); the parts a model plays
are agents.roles.
"""
