"""One per-role model config and one client factory, for every task the engine knows."""

import dataclasses

import pytest

from agents.calls.model_role import model_role
from synthesis.engine.task import TASKS, get_task


def _prefixes(config_type: type) -> list[str]:
    return [f.name.removesuffix("api_base") for f in dataclasses.fields(config_type) if f.name.endswith("api_base")]


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_role_of_every_task_reaches_its_own_server_key_and_timeout(name):
    task = get_task(name)
    prefixes = _prefixes(task.config_type)
    assert prefixes, f"{name} has no role with an api_base"
    overrides = {}
    for number, prefix in enumerate(prefixes):
        overrides |= {f"{prefix}model": f"openai/m{number}", f"{prefix}api_base": f"http://server-{number}/v1",
                      f"{prefix}api_key_env": f"KEY_{number}", f"{prefix}timeout": 10.0 + number}
    if "scorer" in {f.name for f in dataclasses.fields(task.config_type)}:
        overrides["scorer"] = "llm-judge"  # the scorer role only has a client of its own as a judge
    config = task.config_type(**overrides)
    clients = task.make_clients(config, {})
    reached = {(c.config.model, c.config.api_base, c.config.api_key_env, c.config.timeout) for c in clients.values()}
    for number, _ in enumerate(prefixes):
        assert (f"openai/m{number}", f"http://server-{number}/v1", f"KEY_{number}", 10.0 + number) in reached


def test_a_role_refuses_a_non_positive_timeout_by_name():
    @dataclasses.dataclass(frozen=True)
    class Config(model_role("critic_", "critic")):
        pass

    with pytest.raises(ValueError, match="critic_timeout: expected a positive number of seconds, got 0"):
        Config(critic_timeout=0)
