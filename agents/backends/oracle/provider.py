"""`oracle/...`: a rehearsal backend that plays every role competently from the problem set's reference solutions.

    python -m synthesis.debate --problems math500 --limit 20 --policy-model oracle/reference-e30 \
        --critic-model oracle/reference --out runs/rehearsal

No model can be trusted to be right here, so the oracle stands in for a strong one: it recognises the problem in
the prompt (problem sets with reference solutions: MATH train/test/500, GSM8K, or a user's .jsonl with a
`solution` field), splits the solution into steps (agents.backends.oracle.reference) and answers whatever role the
prompt asks for, in that prompt's format (agents.backends.oracle.roles). Model strings:

- `oracle/reference`: never wrong;
- `oracle/reference-eNN`: about NN% of the steps it proposes are wrong, in the kinds a solver errs
  (agents.backends.oracle.errors: arithmetic slip, wrong formula, misread condition, wrong method, unjustified leap),
  each carried on consistently to a wrong final answer and checked wrong by value; seeded by problem, step, seed and
  sample index, so `n` samples differ;
- per-kind rates instead of (or to weight) `-eNN`: `-arithNN -formulaNN -misreadNN -methodNN -leapNN`, e.g.
  `oracle/reference-method30` errs only by wrong methods, on about 30% of steps;
- critic detection (agents.backends.oracle.detection): `-missNN` (NN% of errors go unnoticed until the final answer) and
  `-delayN` (noticed up to N steps late); without them the debate's critic and the critique loop's self-critic
  each have their own default;
- suffix `-lossy`: its rewrites drop the first wrong step (a faithfulness check must reject them);
- suffix `-reasoning`: behaves like an o1-style model, spending `HIDDEN_REASONING_TOKENS` on hidden reasoning
  before any visible text, so a small `max_tokens` gets an empty reply with finish_reason "length".
It reports usage (about 4 characters a token), costs nothing, and answers at once. Use it to prove that the data a
pipeline writes is right, and to see what a real run will write; never present its output as a model's quality.
"""

from __future__ import annotations

import math
import os
import re
import threading
from dataclasses import dataclass, replace

from litellm.llms.custom_llm import CustomLLMError
from litellm.types.utils import ModelResponse

from agents.backends.custom_provider import LocalProvider, fill, install
from agents.backends.oracle.reference import one_line, reference_for
from agents.backends.oracle.roles import Behaviour, Oracle, OracleRoleError, reply, role_of
from protocols.rehearsal import ORACLE_PREFIX
from protocols.types import Problem

PROVIDER = ORACLE_PREFIX.rstrip("/")  # litellm's provider name; the prefix is defined once, in protocols.rehearsal
HIDDEN_REASONING_TOKENS = 1024
# The run engine names its problem set here, so Ray workers (which get LONGTHOUGHT_* variables) can find it too.
PROBLEMS_ENV = "LONGTHOUGHT_ORACLE_PROBLEMS"
# Sets searched, in order, for a prompt whose problem nobody registered (e.g. `agents.llm --model oracle/...`).
_SEARCHED_SETS = ("math500", "math_test", "math_train", "gsm8k_test", "gsm8k_train")
_MODEL = re.compile(r"^(?:oracle/)?reference((?:-[a-z0-9]+)*)$")
_KEY_CHARS = 16  # questions are indexed by their first characters; shorter ones are scanned


class OracleError(ValueError):
    """A bad oracle model string, or a prompt the oracle cannot answer."""


@dataclass(frozen=True)
class OracleModel:
    behaviour: Behaviour
    reasoning: bool


_KIND_SUFFIX = {"arith": "arithmetic", "formula": "formula", "misread": "misread", "method": "method", "leap": "leap"}
_SUFFIXES = "-eNN, -arithNN, -formulaNN, -misreadNN, -methodNN, -leapNN, -missNN, -delayN, -lossy, -reasoning"


def parse_model(model: str) -> OracleModel:
    """`oracle/reference[-eNN][-<kind>NN...][-missNN][-delayN][-lossy][-reasoning]` -> what the oracle does; one
    line naming the part on error."""
    match = _MODEL.match(model)
    if match is None:
        raise OracleError(f"{model!r}: expected oracle/reference[-eNN][-lossy][-reasoning]")
    error_rate, lossy, reasoning, kinds, detection = None, False, False, {}, {}
    for suffix in filter(None, match.group(1).split("-")):
        named = re.fullmatch(r"([a-z]+)(\d{1,2})", suffix)
        if named and named.group(1) == "e":
            error_rate = int(named.group(2)) / 100
        elif named and named.group(1) in _KIND_SUFFIX:
            kinds[_KIND_SUFFIX[named.group(1)]] = int(named.group(2)) / 100
        elif named and named.group(1) == "miss":
            detection["miss_rate"] = int(named.group(2)) / 100
        elif named and named.group(1) == "delay" and len(named.group(2)) == 1:
            detection["max_delay"] = int(named.group(2))
        elif suffix == "lossy":
            lossy = True
        elif suffix == "reasoning":
            reasoning = True
        else:
            raise OracleError(f"{model!r}: unknown suffix -{suffix} (use {_SUFFIXES})")
    behaviour = Behaviour(error_rate=error_rate or 0.0, lossy=lossy, **detection)
    if kinds:
        total = sum(kinds.values())
        behaviour = replace(behaviour, error_rate=error_rate if error_rate is not None else min(total, 0.99),
                            mix=tuple((kind, rate / total) for kind, rate in kinds.items() if total > 0))
    return OracleModel(behaviour, reasoning)


# -- the problems the oracle knows -----------------------------------------------------------------------------
_known: dict[str, list[Problem]] = {}
_loaded_sets: set[str] = set()
_lock = threading.Lock()
# Held across a whole set's load: a set is marked loaded only once its problems are findable, so a concurrent
# lookup waits for it rather than seeing it "loaded" but empty (a race that failed 1 of 20 MATH500 problems).
_load_lock = threading.Lock()


def _key(question: str) -> str:
    flat = one_line(question)
    return flat[:_KEY_CHARS] if len(flat) >= _KEY_CHARS else ""


def remember(problems: list[Problem]) -> None:
    """Make problems (with `meta.solution`) recognisable in prompts; cheap, and safe to repeat. A problem already
    known by its id gives way to a copy that has a reference where it had none, or whose text differs: the run's
    own problems are the truth, and a copy without a solution (seen first in a set that has none) must not hide
    one that has (it failed a MATH500 problem when an earlier run in the process had registered it bare)."""
    with _lock:
        for problem in problems:
            bucket = _known.setdefault(_key(problem.question), [])
            same = [known for known in bucket if known.id == problem.id
                    and one_line(known.question) == one_line(problem.question)]
            if same and (reference_for(same[0]) is not None or reference_for(problem) is None):
                continue
            bucket[:] = [known for known in bucket if known not in same] + [problem]


def _load_set(name: str) -> None:
    from protocols.problems import ProblemSetError, load

    with _load_lock:
        if name in _loaded_sets:
            return
        try:
            remember(load(name))
        except ProblemSetError:
            pass  # a set that is not available here cannot hold the problem
        _loaded_sets.add(name)


def _candidates(text: str) -> list[int]:
    starts = [0] + [match.end() for match in re.finditer(r"Problem:\s*", text)]
    return starts


def find_problem(text: str) -> Problem | None:
    """The known problem whose question this prompt contains (after "Problem:" or at its start); of several, one
    with a reference solution."""
    flat = one_line(text)
    while True:  # each pass loads one more set, so this ends once every set is loaded
        found = [problem for start in _candidates(flat)
                 for problem in _known.get(flat[start: start + _KEY_CHARS], []) + _known.get("", [])
                 if flat.startswith(one_line(problem.question), start)]
        with_reference = [problem for problem in found if reference_for(problem) is not None]
        if with_reference:
            return with_reference[0]
        # Not registered yet: load the run's own set, then the named sets with reference solutions.
        sets = [os.environ[PROBLEMS_ENV]] if os.environ.get(PROBLEMS_ENV) else []
        pending = [name for name in [*sets, *_SEARCHED_SETS] if name not in _loaded_sets]
        if not pending:
            return found[0] if found else None
        _load_set(pending[0])


# -- the litellm provider ----------------------------------------------------------------------------------------
def tokens(text: str) -> int:
    """About 4 characters a token: enough for budgets, progress and reports to work."""
    return max(1, math.ceil(len(text) / 4))


def _answer(model: str, messages: list[dict], params: dict) -> tuple[list[tuple[str, str, int]], int]:
    spec = parse_model(model)
    text = "\n".join(str(message.get("content") or "") for message in messages)
    if role_of(text) == "preflight":  # the run engine's reachability check names no problem
        return [("OK", "stop", 1)] * int(params.get("n") or 1), tokens(text)
    problem = find_problem(text)
    reference = reference_for(problem) if problem is not None else None
    if reference is None:
        raise OracleError(f"{model}: no problem with a reference solution and a gold answer found in the prompt "
                          f"(problem sets with solutions: MATH, MATH500, GSM8K, or a .jsonl with a 'solution' field)")
    seed = int(params.get("seed") or 0)
    max_tokens = int(params.get("max_tokens") or params.get("max_completion_tokens") or 4096)
    oracle = Oracle(reference, spec.behaviour, seed)
    choices = []
    for sample in range(int(params.get("n") or 1)):
        content = reply(oracle, text, sample)
        visible = tokens(content)
        hidden = HIDDEN_REASONING_TOKENS if spec.reasoning else 0
        if hidden + visible > max_tokens:
            # Like a real model at its cap: a reasoning model shows nothing, others stop mid-text.
            kept = "" if spec.reasoning else content[: max(0, max_tokens - hidden) * 4]
            choices.append((kept, "length", max_tokens))
        else:
            choices.append((content, "stop", hidden + visible))
    return choices, tokens(text)


class OracleLLM(LocalProvider):
    """litellm custom provider `oracle`."""

    def respond(self, model: str, messages: list, model_response: ModelResponse, optional_params: dict) -> ModelResponse:
        try:
            name = model.removeprefix(ORACLE_PREFIX)  # litellm passes the name without its provider
            choices, prompt_tokens = _answer(name, messages, optional_params)
        except (OracleError, OracleRoleError) as error:
            raise CustomLLMError(status_code=400, message=str(error)) from error
        return fill(model_response, ORACLE_PREFIX + name,
                    [(text, finish) for text, finish, _ in choices], prompt_tokens,
                    sum(count for _, _, count in choices))


def register() -> None:
    """Make `oracle/...` model strings resolvable by litellm (idempotent)."""
    install(PROVIDER, OracleLLM)
