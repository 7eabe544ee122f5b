"""Synthesis runs check their problems against the eval sets: counted in the manifest by default, dropped on
request, and never for the evaluation tasks, which run on the eval sets themselves."""

import json

from protocols.problems import load
from synthesis.debate import DebateConfig
from synthesis.engine import RunConfig, get_task, plan


def _problems(tmp_path, data_dir, monkeypatch):
    monkeypatch.setenv("LONGTHOUGHT_DATA_DIR", str(data_dir))
    planted = load("math500")[11]
    path = tmp_path / "problems.jsonl"
    path.write_text(json.dumps({"id": "mine", "problem": "A farmer has 17 sheep and buys 5 more each week. How many "
                                "sheep does he own after 9 weeks?", "answer": "62"}) + "\n"
                    + json.dumps({"id": "planted", "problem": planted.question, "answer": planted.answer}) + "\n")
    return str(path)


def _plan(problems, tmp_path, mode):
    config = DebateConfig(policy_model="oracle/reference", critic_model="oracle/reference")
    return plan(get_task("debate"), RunConfig(problems=problems, out=str(tmp_path / mode), decontaminate=mode,
                                              eval_sets="math500"), config)


def test_synthesis_reports_by_default_and_drops_on_request(tmp_path, data_dir, monkeypatch):
    problems = _problems(tmp_path, data_dir, monkeypatch)
    assert RunConfig().decontaminate == "report"
    reported = _plan(problems, tmp_path, "report")
    assert [p.id for p in reported.problems] == ["mine", "planted"]
    assert reported.run.store.decontamination["eval_sets"]["math500"]["contaminated"] == 1
    dropped = _plan(problems, tmp_path, "drop")
    assert [p.id for p in dropped.problems] == ["mine"] and dropped.run.store.decontamination["dropped"] == 1
    assert _plan(problems, tmp_path, "off").run.store.decontamination is None


def test_accuracy_on_an_eval_set_is_never_decontaminated(tmp_path, data_dir, monkeypatch):
    from eval.accuracy import AccuracyConfig

    monkeypatch.setenv("LONGTHOUGHT_DATA_DIR", str(data_dir))
    accuracy = plan(get_task("accuracy"), RunConfig(problems="math500", limit=3, out=str(tmp_path / "acc"),
                                                    decontaminate="drop"), AccuracyConfig(model="oracle/reference"))
    assert len(accuracy.problems) == 3 and accuracy.run.store.decontamination is None
