"""Several model servers behind one model name: a litellm Router built from `--router-config FILE.yaml`.

The file uses litellm's own proxy format, so a config that already drives a litellm proxy works here:

    model_list:
      - model_name: policy                      # the name any model flag can use
        litellm_params:
          model: hosted_vllm/Qwen2.5-Math-7B-Instruct
          api_base: http://gpu-node-1:8000/v1
          rpm: 600                              # rate limits per server
      - model_name: policy
        litellm_params:
          model: hosted_vllm/Qwen2.5-Math-7B-Instruct
          api_base: http://gpu-node-2:8000/v1
      - model_name: backup
        litellm_params:
          model: openai/gpt-4o-mini
          api_key: os.environ/OPENAI_API_KEY    # secrets only as environment references
    router_settings:
      routing_strategy: least-busy
      fallbacks: [{policy: [backup]}]
      cooldown_time: 30
      allowed_fails: 1

A model flag naming a `model_name` of the file (`--policy-model policy`) goes through the router; other model
strings are called directly. Secrets must be `os.environ/NAME` references, which litellm resolves in the process
that makes the call; a literal key is refused, so the file's content can be recorded in a run's manifest.
"""

from __future__ import annotations

import asyncio
import os
import weakref
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agents.calls import redact

ENV_REFERENCE = "os.environ/"
# Parameter names that hold credentials; any name containing one of these must be an environment reference.
SECRET_MARKERS = ("key", "secret", "token", "password", "credential", "auth")


class RouterConfigError(ValueError):
    """A router config file is unusable; the message names the file and the entry."""


class Deployment(BaseModel):
    """One server (or provider endpoint) serving `model_name`."""

    model_config = ConfigDict(extra="allow", frozen=True)

    model_name: str = Field(min_length=1)
    litellm_params: dict[str, Any]


class RouterSpec(BaseModel):
    """A validated router config: what litellm.Router is built from; holds no secret values."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str
    model_list: tuple[Deployment, ...] = Field(min_length=1)
    router_settings: dict[str, Any] = Field(default_factory=dict)

    def model_names(self) -> set[str]:
        return {deployment.model_name for deployment in self.model_list}

    def deployments(self, model_name: str) -> int:
        return sum(deployment.model_name == model_name for deployment in self.model_list)

    def describe(self) -> dict[str, Any]:
        """For manifests: each name's servers and the settings (references only, never values)."""
        servers: dict[str, list[dict[str, Any]]] = {}
        for deployment in self.model_list:
            servers.setdefault(deployment.model_name, []).append(dict(deployment.litellm_params))
        return {"source": self.source, "models": servers, "router_settings": dict(self.router_settings)}

    def cache_key(self) -> str:
        return self.model_dump_json()

    def served_models(self) -> dict[str, list[str]]:
        """Each model name's underlying litellm models: a run may add servers, but not change what answers."""
        served: dict[str, set[str]] = {}
        for deployment in self.model_list:
            served.setdefault(deployment.model_name, set()).add(str(deployment.litellm_params["model"]))
        return {name: sorted(models) for name, models in sorted(served.items())}


def _is_secret(name: Any) -> bool:
    return isinstance(name, str) and any(marker in name.lower() for marker in SECRET_MARKERS)


def _check_secrets(value: Any, where: str) -> None:
    if isinstance(value, dict):
        for name, item in value.items():
            is_secret = _is_secret(name)
            if is_secret and isinstance(item, str) and not item.startswith(ENV_REFERENCE):
                raise RouterConfigError(
                    f"{where}.{name}: write an environment reference like {ENV_REFERENCE}MY_API_KEY, not the secret itself"
                )
            _check_secrets(item, f"{where}.{name}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_secrets(item, f"{where}[{index}]")


def load_router_config(path: str | Path) -> RouterSpec:
    """Read and validate a router config file; every problem is one line naming the file and the entry."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise RouterConfigError(f"{path}: cannot read the router config ({error.strerror})") from None
    except yaml.YAMLError as error:
        raise RouterConfigError(f"{path}: not valid YAML ({' '.join(str(error).split())})") from None
    if not isinstance(data, dict):
        raise RouterConfigError(f"{path}: expected a mapping with model_list (and optionally router_settings)")
    _check_secrets(data, str(path))
    if not isinstance(data.get("model_list"), list):
        raise RouterConfigError(f"{path}: model_list: expected a list of deployments "
                                f"(model_name and litellm_params each), got {type(data.get('model_list')).__name__}")
    for index, deployment in enumerate(data["model_list"]):
        params = deployment.get("litellm_params") if isinstance(deployment, dict) else None
        if not isinstance(params, dict) or "model" not in params:
            raise RouterConfigError(f"{path}: model_list[{index}]: expected model_name and litellm_params.model")
    try:
        return RouterSpec(source=str(path.resolve()), **data)
    except (ValidationError, TypeError) as error:
        first = error.errors()[0] if isinstance(error, ValidationError) else {"loc": (), "msg": str(error)}
        location = ".".join(str(part) for part in first["loc"])
        raise RouterConfigError(f"{path}: {location}: {first['msg']}") from None


# Our client retries transient errors with backoff, and each retry asks the router again; stacking the router's
# own retries on top would multiply attempts. A server that fails twice in a minute rests for 10 s, so a dead
# server stops receiving calls at once (litellm's default waits for more failures; measured: a stopped server
# then kept getting every retry under least-busy routing, since it "finishes" its calls fastest).
DEFAULT_SETTINGS: dict[str, Any] = {"num_retries": 0, "allowed_fails": 1, "cooldown_time": 10}

def _resolve(value: Any, source: str, secret: bool = False) -> Any:
    if isinstance(value, dict):
        return {name: _resolve(item, source, secret or _is_secret(name)) for name, item in value.items()}
    if isinstance(value, list):
        return [_resolve(item, source, secret) for item in value]
    if isinstance(value, str) and value.startswith(ENV_REFERENCE):
        name = value.removeprefix(ENV_REFERENCE)
        if name not in os.environ:
            raise RouterConfigError(f"{source}: {value}: environment variable {name} is not set")
        if secret:
            redact.remember(os.environ[name])  # a server echoing it back must not get it into an error line
        return os.environ[name]
    return value


# One Router per (config, event loop): its HTTP clients belong to the loop that created them.
_ROUTERS: dict[str, weakref.WeakKeyDictionary] = {}


def router_for(spec: RouterSpec) -> Any:
    """The litellm Router of a spec in the running event loop, built on first use."""
    import litellm

    per_loop = _ROUTERS.setdefault(spec.cache_key(), weakref.WeakKeyDictionary())
    loop = asyncio.get_running_loop()
    router = per_loop.get(loop)
    if router is None:
        # litellm resolves os.environ/ only at the top of litellm_params; resolve every reference here, in memory.
        settings = DEFAULT_SETTINGS | _resolve(dict(spec.router_settings), spec.source)
        model_list = [_resolve(deployment.model_dump(), spec.source) for deployment in spec.model_list]
        try:
            router = litellm.Router(model_list=model_list, **settings)
        except TypeError as error:
            raise RouterConfigError(f"{spec.source}: router_settings: {error}") from None
        per_loop[loop] = router
    return router
