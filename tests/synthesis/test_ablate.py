"""synthesis.ablate: every role's model reaches the attempt that uses it, and a real oracle ablation with a judge
that is not the policy finishes all four attempts."""

import json

import pytest

from synthesis.ablate import AblateConfig, attempt_configs, main
from tests.conftest import REPO

# The three problems the shipped examples/annotations are written for, so human annotation has work too.
ANNOTATED = ["test/algebra/567.json", "test/intermediate_algebra/134.json", "test/prealgebra/105.json"]


def _plan(tmp_path, **roles):
    return {attempt: config for attempt, (_, config) in
            attempt_configs(AblateConfig(problems="math500", out=tmp_path, **roles)).items()}


def test_each_role_reaches_its_attempts_config(tmp_path):
    plan = _plan(tmp_path, model="base", api_base="http://base/v1", policy_model="pol", critic_model="crit",
                 critic_api_base="http://crit/v1", scorer_model="judge", rewrite_model="none", expander_model="exp",
                 tree_search={"scorer": "llm-judge", "trials_per_node": 2})
    tree, loop, debate, notes = plan["tree_search"], plan["critique_loop"], plan["debate"], plan["human_annotation"]
    assert (tree.policy_model, tree.scorer_model, tree.rewrite_model) == ("pol", "judge", "none")
    assert (tree.scorer, tree.trials_per_node) == ("llm-judge", 2)
    assert (debate.policy_model, debate.critic_model, debate.critic_api_base) == ("pol", "crit", "http://crit/v1")
    assert loop.model == "pol"  # the critique loop's one model proposes, so it is the policy
    assert notes.model == "exp"
    # A role with a model of its own does not inherit --api-base (an o1-mini judge is not on the policy's server).
    assert (tree.policy_api_base, tree.scorer_api_base, notes.api_base) == (None, None, None)


def test_roles_without_their_own_model_take_model_and_api_base(tmp_path):
    plan = _plan(tmp_path, model="base", api_base="http://base/v1", scorer_model="judge")
    tree, debate = plan["tree_search"], plan["debate"]
    assert (tree.policy_model, tree.policy_api_base) == ("base", "http://base/v1")
    assert (tree.rewrite_model, tree.rewrite_api_base) == ("base", "http://base/v1")
    assert (tree.scorer_model, tree.scorer_api_base) == ("judge", None)
    assert (debate.critic_model, debate.critic_api_base) == ("base", "http://base/v1")
    assert (plan["critique_loop"].api_base, plan["human_annotation"].model) == ("http://base/v1", "base")
    # An empty flag unsets the server a --config file gave (the rehearsal's oracle policy needs none).
    assert _plan(tmp_path, policy_model="oracle/reference", policy_api_base="")["debate"].policy_api_base is None


def test_a_bad_or_unknown_attempt_setting_is_one_line_naming_it(tmp_path):
    with pytest.raises(ValueError, match=r"^scorer: expected one of llm-judge, rollout, hf-prm, got 'prm'$"):
        _plan(tmp_path, tree_search={"scorer": "prm"})
    with pytest.raises(ValueError, match=r"^debate: unknown setting 'widht'"):
        _plan(tmp_path, debate={"widht": 3})
    with pytest.raises(ValueError, match=r"--step-max-tokens was renamed: use --policy-max-tokens"):
        _plan(tmp_path, tree_search={"step_max_tokens": 3})


def test_every_field_of_an_attempt_is_reachable_by_section_and_by_flag(tmp_path):
    from synthesis.ablation import attempt_flags

    rest, flags = attempt_flags(["--out", "o", "--debate.critic_sees_answer", "true", "--tree-search.resamples=5"])
    assert rest == ["--out", "o"]
    config = AblateConfig(problems="math500", out=tmp_path, debate={"critic_max_tokens": 99, "critic_sees_answer": False})
    plan = attempt_configs(config, flags)
    assert (plan["debate"][1].critic_max_tokens, plan["debate"][1].critic_sees_answer) == (99, True)
    assert (plan["tree_search"][1].resamples, plan["tree_search"][1].width) == (5, 2)  # the ablation's scale below


def test_the_recipes_ablation_file_drives_the_ablation_with_the_tree_search_stages_tree(tmp_path):
    import yaml

    from protocols.cli import command_parser, parse
    from synthesis.ablate import __doc__ as doc

    recipe = REPO / "recipes" / "journey-learning" / "2-ablation.yaml"
    (config,) = parse(command_parser("synthesis.ablate", (AblateConfig,), doc),
                      ["--config", str(recipe), "--critic-model", "openai/o1-mini"])
    tree = attempt_configs(config)["tree_search"][1]
    stage = yaml.safe_load((recipe.parent / "2-tree-search.yaml").read_text())
    assert all(stage[key] == value for key, value in yaml.safe_load(recipe.read_text())["tree_search"].items())
    assert (config.problems, config.shuffle, config.limit) == ("math_train_12k", True, 600)
    assert (tree.scorer, tree.scorer_model, tree.rewrite_model) == ("llm-judge", "openai/o1-mini", "openai/gpt-4o")
    assert (tree.width, tree.depth, tree.beam, tree.policy_api_base) == (3, 10, 3, "http://localhost:8000/v1")
    assert attempt_configs(config)["debate"][1].critic_model == "openai/o1-mini"  # the flag on top of the file


def test_an_oracle_ablation_with_a_judge_that_is_not_the_policy_finishes_every_attempt(tmp_path, with_data_dir,
                                                                                          capsys):
    out = tmp_path / "ablation"
    argv = ["--problems", "math500", "--ids", *ANNOTATED, "--out", str(out), "--policy-model", "oracle/reference-e30",
            "--model", "oracle/reference", "--tree_search.scorer", "llm-judge", "--tree_search.width", "3",
            "--tree_search.depth", "12", "--tree_search.beam", "3"]
    assert main(argv) == 0
    last = capsys.readouterr().err.strip().splitlines()[-1]  # rehearsal data says so on the last line
    assert last.startswith("ablation in") and "[ORACLE DATA (critic, expander, policy, rewriter, scorer played" in last
    summary = json.loads((out / "ablation.json").read_text())
    assert summary["models"] == {"policy": "oracle/reference-e30", "critic": "oracle/reference",
                                 "scorer": "oracle/reference", "rewrite": "oracle/reference",
                                 "expander": "oracle/reference"}
    for attempt, entry in summary["attempts"].items():
        assert entry["finished"] == "completed 3 records", (attempt, entry)
    records = [json.loads(line) for line in (out / "tree_search" / "records.jsonl").read_text().splitlines()]
    assert all(record["correct"] for record in records)  # the reference judge kept the right branches
    assert sum(record["meta"]["trials"] for record in records) > 0  # the erring policy's wrong steps were narrated
    assert all(set(record["usage"]) == {"policy", "judge", "rewriter"} for record in records)
    # A rerun of one attempt resumes it and keeps the others' entries in ablation.json.
    assert main([*argv, "--attempts", "debate"]) == 0
    assert set(json.loads((out / "ablation.json").read_text())["attempts"]) == set(summary["attempts"])
    # A rerun with other settings is refused by the attempt's run; ablation.json keeps the settings of its records.
    assert main([*argv, "--attempts", "debate", "--debate.max_turns", "6"]) == 1
    debate = json.loads((out / "ablation.json").read_text())["attempts"]["debate"]
    assert debate["config"]["debate"]["max_turns"] == summary["attempts"]["debate"]["config"]["debate"]["max_turns"]
    assert debate["last_try"]["exit_code"] == 2 and debate["exit_code"] == 0
    # Other problems into the same --out are refused before problems.jsonl (which every attempt reads) is rewritten.
    problems = (out / "problems.jsonl").read_text()
    capsys.readouterr()
    assert main([*argv[:2], "--ids", ANNOTATED[0], *argv[5:]]) == 2
    assert "an ablation of other problems" in capsys.readouterr().err
    assert (out / "problems.jsonl").read_text() == problems


def test_each_role_takes_its_own_key_variable_and_timeout(tmp_path):
    plan = _plan(tmp_path, model="base", api_key_env="BASE_KEY", timeout=60.0, critic_model="openai/o1-mini",
                 critic_api_key_env="OPENAI_KEY_2", critic_timeout=900.0, scorer_model="judge")
    tree, debate = plan["tree_search"], plan["debate"]
    assert (debate.critic_api_key_env, debate.critic_timeout) == ("OPENAI_KEY_2", 900.0)
    assert (debate.policy_api_key_env, debate.policy_timeout) == ("BASE_KEY", 60.0)  # --model's role: --model's key
    assert (tree.scorer_api_key_env, tree.scorer_timeout) == (None, 60.0)  # a model of its own: not --model's key
