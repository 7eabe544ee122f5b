"""Hardening round 2 (issue 28): bad input is one line naming what is wrong and where (exit 2), never a traceback
or a silent acceptance; problem data never reaches a terminal or run.log with raw escape sequences; a huge
annotation is refused in one line and tree building is linear."""

import json

import pytest

from agents.backends.litellm_router import RouterConfigError, load_router_config
from eval import accuracy, fidelity
from protocols import annotation as annotation_module
from protocols import problems as problems_module
from protocols.annotation import parse, to_tree
from protocols.problems import ProblemSetError, load
from protocols.types import ThoughtTree
from synthesis import annotate, debate

ORACLE = ["--policy-model", "oracle/reference", "--critic-model", "oracle/reference"]
ESC = "\x1b]0;pwned\x07\x1b[2J"


def _one_error_line(capsys) -> str:
    captured = capsys.readouterr()
    text = (captured.err + captured.out).strip()
    assert "Traceback" not in text, text
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), text
    return lines[0]


def _problems_file(tmp_path, **row) -> str:
    path = tmp_path / "problems.jsonl"
    path.write_text(json.dumps({"id": "p1", "problem": "What is 1+1?", "answer": "2"} | row) + "\n")
    return str(path)


# -- --out that is a symlink loop ------------------------------------------------------------------------------
def test_an_out_that_is_a_symlink_loop_is_one_line(tmp_path, capsys):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    out = tmp_path / "a" / "run"
    assert debate.main([*ORACLE, "--problems", _problems_file(tmp_path), "--out", str(out)]) == 2
    line = _one_error_line(capsys)
    assert "--out" in line and str(out) in line


# -- --config values of the wrong type ---------------------------------------------------------------------------
@pytest.mark.parametrize(("setting", "named", "expected"), [
    ("limit: [1, 2]", "limit", "expected an integer, got a list"),
    ("max_turns: 3.7", "max_turns", "expected an integer, got 3.7"),
    ("max_turns: '3.7'", "max_turns", "expected an integer"),
    ("seed: true", "seed", "expected an integer"),
    ("max_concurrency: 5", "max_concurrency", "expected a list"),
    ("max_concurrency: [4, {critic: 2}]", "max_concurrency[1]", "got a mapping"),
    ("problems: {a: 1}", "problems", "expected a string, got a mapping"),
    ("out: [a, b]", "out", "expected a string, got a list"),
    ("shuffle: maybe", "shuffle", "expected true or false"),
    ("policy_temperature: [0.7]", "policy_temperature", "expected a finite number, got a list"),
    ("policy_temperature: .nan", "policy_temperature", "expected a finite number"),
    ("budget_cost: .inf", "budget_cost", "expected a finite number"),
    ("policy_max_tokens: null", "policy_max_tokens", "expected an integer, got nothing"),
])
def test_config_values_of_the_wrong_type_are_one_line_naming_the_setting(tmp_path, capsys, setting, named, expected):
    config = tmp_path / "run.yaml"
    config.write_text(setting + "\n")
    assert debate.main([*ORACLE, "--dry-run", "--limit", "1", "--problems", _problems_file(tmp_path),
                        "--config", str(config)]) == 2
    line = _one_error_line(capsys)
    assert f"--config {config}: {named}: " in line and expected in line, line


def test_config_values_of_the_right_type_still_work(tmp_path, capsys):
    config = tmp_path / "run.yaml"
    config.write_text("max_turns: 5\nseed: '7'\nmax_concurrency: [4, critic=2]\npreflight: false\n"
                      "policy_temperature: 1\nlimit: null\n")
    assert debate.main([*ORACLE, "--dry-run", "--problems", _problems_file(tmp_path), "--config", str(config)]) == 0
    assert "dry run: 1 problems" in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--policy-temperature", "--critic-temperature"])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_a_temperature_that_is_not_a_finite_number_is_refused(tmp_path, capsys, flag, value):
    assert debate.main([*ORACLE, "--dry-run", "--problems", _problems_file(tmp_path), f"{flag}={value}"]) == 2
    assert flag[2:].replace("-", "_") in _one_error_line(capsys)


# -- a router file with model_list: 5 ------------------------------------------------------------------------------
@pytest.mark.parametrize("body", ["model_list: 5\n", "model_list: abc\n", "router_settings: {}\n",
                                  "model_list:\n  - model_name: a\n    litellm_params: 5\n"])
def test_a_router_file_of_the_wrong_shape_is_one_line_naming_it(tmp_path, capsys, body):
    path = tmp_path / "router.yaml"
    path.write_text(body)
    with pytest.raises(RouterConfigError, match="model_list"):
        load_router_config(path)
    assert debate.main([*ORACLE, "--dry-run", "--problems", _problems_file(tmp_path), "--router-config",
                        str(path)]) == 2
    assert str(path) in _one_error_line(capsys)


# -- a binary .md among annotations; a huge annotation -----------------------------------------------------------
def test_a_binary_annotation_is_one_issue_naming_the_file(tmp_path, capsys):
    source = _problems_file(tmp_path, id="p")
    (tmp_path / "good.md").write_text(f"# problem: p\n# source: {source}\n## attempt\n1 + 1 = 2\n## final\n\\boxed{{2}}\n")
    (tmp_path / "image.md").write_bytes(b"# problem: q\n\x89PNG\r\n\x1a\n\xff\xfe\x00")
    annotation, issues = annotation_module.parse_file(tmp_path / "image.md")
    assert annotation is None and [(issue.path, issue.line) for issue in issues] == [(str(tmp_path / "image.md"), 2)]
    assert "not UTF-8" in issues[0].message
    assert annotate.main(["expand", str(tmp_path), "--model", "oracle/reference"]) == 2
    line = _one_error_line(capsys)
    assert "image.md:2" in line and "not UTF-8" in line


def test_a_200000_line_annotation_is_refused_in_one_line(tmp_path, capsys):
    lines = ["# problem: p", "# source: x.jsonl", "## attempt", *(f"step {i}" for i in range(200_000)),
             "## final", "\\boxed{1}"]
    (tmp_path / "huge.md").write_text("\n".join(lines))
    assert annotate.main(["expand", str(tmp_path), "--model", "oracle/reference"]) == 2
    line = _one_error_line(capsys)
    assert "huge.md" in line and "at most" in line
    assert annotate.main(["validate", str(tmp_path)]) == 1  # validate lists it like any other issue
    assert "huge.md:1: error:" in capsys.readouterr().err


def test_tree_building_never_walks_the_path_again_per_step(monkeypatch):
    """The quadratic part was one root-to-frontier walk per new step; the tree is the same without any walk."""
    text = "\n".join(["# problem: p", "## attempt", *(f"a{i}" for i in range(20_000)), "## reflection", "hmm",
                      "## correction to 3", "c3", "c4", "## correction", "c4 again", "## attempt", "b1",
                      "## final", "\\boxed{1}"])
    annotation, _ = parse(text)
    monkeypatch.setattr(ThoughtTree, "path", lambda self, node_id: pytest.fail("to_tree walked a path"))
    tree = to_tree(annotation)
    steps = [node for node in tree.nodes if node.kind in ("step", "answer")]
    by_text = {node.step.text: node for node in steps}
    assert [by_text[name].step.index for name in ("a0", "a2", "c3", "c4", "c4 again", "b1", "\\boxed{1}")] == \
        [1, 3, 3, 4, 4, 1, 2]
    assert by_text["a2"].correct is False and by_text["a1"].correct is None  # "to 3": steps 3.. were wrong
    assert by_text["c4"].correct is False and by_text["c3"].correct is None  # a bare correction: the last step
    assert by_text["c3"].parent == by_text["a1"].id and by_text["c4 again"].parent == by_text["c3"].id
    assert by_text["b1"].parent == 0 and by_text["\\boxed{1}"].parent == by_text["b1"].id


# -- eval.fidelity: another schema_version or a garbage line; eval.accuracy --samples -3 ----------------------------
@pytest.mark.parametrize(("edit", "where", "why"), [
    (lambda line: line.replace('"schema_version":1', '"schema_version":2'), ":1:", "schema_version"),
    (lambda line: line + "garbage\n", ":2:", "Invalid JSON"),
])
def test_eval_fidelity_names_the_line_that_is_not_a_record(tmp_path, capsys, edit, where, why):
    run = tmp_path / "run"
    assert debate.main([*ORACLE, "--problems", "examples/problems/arithmetic.jsonl", "--limit", "1",
                        "--out", str(run)]) == 0
    records = run / "records.jsonl"
    records.write_text(edit(records.read_text()))
    capsys.readouterr()
    assert fidelity.main([str(run)]) == 2
    line = _one_error_line(capsys)
    assert f"{records}{where}" in line and why in line


@pytest.mark.parametrize(("flags", "named"), [(["--samples", "-3"], "samples"), (["--samples", "0"], "samples"),
                                               (["--temperature", "nan"], "temperature"),
                                               (["--answer-max-tokens", "0"], "answer_max_tokens")])
def test_eval_accuracy_refuses_bad_numbers(tmp_path, capsys, flags, named):
    assert accuracy.main(["--model", "oracle/reference", "--problems", _problems_file(tmp_path),
                          "--out", str(tmp_path / "acc"), *flags]) == 2
    assert f"error: {named}: expected" in _one_error_line(capsys)
    assert not (tmp_path / "acc").exists()


# -- gold answers that are not answers -----------------------------------------------------------------------------
@pytest.mark.parametrize("answer", ["NaN", "Infinity", "-Infinity", "true"])
def test_a_gold_answer_that_is_not_a_number_or_string_is_refused(tmp_path, answer):
    path = tmp_path / "p.jsonl"
    path.write_text('{"id": "p1", "problem": "What is 1+1?", "answer": ' + answer + "}\n")
    with pytest.raises(ProblemSetError, match=r"p\.jsonl:1: field 'answer' must be a string or a finite number"):
        load(str(path))


def test_numeric_gold_answers_still_load(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"problem": "a", "answer": 2}\n{"problem": "b", "answer": 0.5}\n')
    assert [problem.answer for problem in load(str(path))] == ["2", "0.5"]


# -- escape sequences in problem ids and questions ----------------------------------------------------------------
def test_problem_data_never_reaches_the_terminal_or_run_log_raw(tmp_path, capsys):
    problems = _problems_file(tmp_path, id=f"p{ESC}1", problem=f"What is 1+1?{ESC}")
    assert problems_module.main([problems]) == 0
    printed = capsys.readouterr().out
    assert "\x1b" not in printed and "\x07" not in printed and "\\x1b]0;pwned\\x07" in printed
    assert debate.main([*ORACLE, "--dry-run", "--problems", problems]) == 0
    printed = capsys.readouterr()
    assert "\x1b" not in printed.err + printed.out and "p\\x1b]0;pwned" in printed.err
    # A real run: the oracle has no reference for this problem, so it fails, and run.log names it.
    run = tmp_path / "run"
    debate.main([*ORACLE, "--problems", problems, "--out", str(run)])
    log = (run / "run.log").read_text()
    assert f"p{ESC}1" not in log and "p\\x1b]0;pwned\\x07\\x1b[2J1" in log
    assert "\x1b" not in capsys.readouterr().err
