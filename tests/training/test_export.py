"""Data out as Hugging Face datasets: long thoughts and SFT/DPO rows as Parquet with a card, loaded back by
`datasets.load_dataset`; the Hub push is checked up to the call (it cannot run offline)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import datasets
import huggingface_hub
import pytest
import yaml

from protocols.types import Problem, Record, ThoughtTree, Turn
from training.export import main as export_main
from training.formats import DatasetCard, dpo_row, load_train, paired_sft, run_cards, run_labels, write_dataset


@pytest.fixture(scope="module")
def oracle_run(tmp_path_factory, data_dir) -> Path:
    """A real debate run on 3 MATH500 problems, made by the oracle (its policy errs, the critic corrects it)."""
    out = tmp_path_factory.mktemp("export") / "debate"
    result = subprocess.run([sys.executable, "-m", "synthesis.debate", "--problems", "math500", "--limit", "3",
                             "--policy-model", "oracle/reference-e30", "--critic-model", "oracle/reference",
                             "--out", str(out)], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "LONGTHOUGHT_DATA_DIR": str(data_dir)})
    assert result.returncode == 0, result.stderr[-2000:]
    return out


def _records(run: Path) -> list[Record]:
    return [Record.model_validate_json(line) for line in (run / "records.jsonl").read_text().splitlines()]


def _card_header(folder: Path) -> dict:
    return yaml.safe_load((folder / "README.md").read_text().split("---\n")[1])


def test_exported_long_thoughts_load_back_as_the_records(oracle_run, tmp_path):
    out = tmp_path / "thoughts-round-trip"
    # The run is on MATH500, an eval set: counted, not dropped, with --decontaminate report.
    assert export_main([str(oracle_run), "--out", str(out), "--decontaminate", "report"]) == 0
    rows = datasets.load_dataset(str(out), split="train").to_list()  # the card's configs: header alone finds the data
    records = _records(oracle_run)
    assert [row["id"] for row in rows] == [record.problem_id for record in records] and len(rows) == 3
    for row, record in zip(rows, records, strict=True):
        assert (row["long_thought"], row["shortcut"], row["final_answer"], row["correct"], row["stop_reason"]) == (
            record.long_thought, record.shortcut, record.final_answer, record.correct, record.stop_reason)
        assert (row["problem"], row["answer"], row["subject"], row["level"]) == (
            record.problem.question, record.problem.answer, record.problem.meta["subject"],
            str(record.problem.meta["level"]))
        assert ThoughtTree.model_validate_json(row["tree"]) == record.tree  # the JSON column parses back exactly
        assert [Turn.model_validate(turn) for turn in json.loads(row["turns"])] == record.turns
        assert row["total_tokens"] == sum(u.prompt_tokens + u.completion_tokens for u in record.usage.values()) > 0
        assert (row["run"], row["attempt"]) == ("debate", "debate")
    card = (out / "README.md").read_text()
    config = yaml.safe_load((oracle_run / "config.yaml").read_text())
    cards = yaml.safe_load(card.split("## Run cards")[1].split("```yaml\n")[1].split("```")[0])
    assert cards["debate"]["config"] == config  # the run's whole config.yaml
    manifest = cards["debate"]["manifest"]
    assert manifest["models"] == {"policy": "oracle/reference-e30", "critic": "oracle/reference"}
    assert manifest["git_sha"] and manifest["versions"]["python"] and "command" not in manifest
    correct = sum(bool(record.correct) for record in records)
    assert f'"correct_share": {round(correct / 3, 3)}' in card and '"rows": 3' in card
    assert "api_key:" not in card and _card_header(out)["configs"][0]["data_files"][0]["path"] == "data/train-*"
    # Rehearsal data says what it is: a tag, a warning under the title, the manifest's roles, and a column per row.
    assert "oracle-rehearsal" in _card_header(out)["tags"] and manifest["oracle_roles"] == ["critic", "policy"]
    title, warning = card.split("---\n", 2)[2].strip().split("\n\n")[:2]
    assert warning.startswith("> **⚠ ORACLE DATA (critic, policy played by oracle/…): a rehearsal, not a model's")
    assert [row["oracle_roles"] for row in rows] == [["critic", "policy"]] * 3
    stats = json.loads(card.split("## Statistics")[1].split("```json\n")[1].split("```")[0])
    math500 = stats["decontamination"]["eval_sets"]["math500"]
    assert (stats["decontamination"]["n"], math500["contaminated"], math500["question"]) == (8, 3, 3)
    assert stats["deduplication"]["problems"]["checked"] == 3 and "long_thoughts" in stats["deduplication"]


def test_the_default_export_drops_eval_problems_and_says_so(oracle_run, tmp_path, capsys):
    assert export_main([str(oracle_run), "--out", str(tmp_path / "o")]) == 2
    assert "every record was dropped by decontamination" in capsys.readouterr().err


@pytest.mark.parametrize("argv,expected", [
    (["{tmp}/missing", "--out", "{tmp}/o"], "missing: no such file or folder"),
    (["{run}", "--out", "{tmp}/o", "--push-to-hub", "not a/repo"], "--push-to-hub not a/repo:"),
    (["{run}"], "--out is required"),
    (["{run}", "--out", "{tmp}/o", "--private"], "--private: only with --push-to-hub"),
    (["{tmp}/empty", "--out", "{tmp}/o"], "no records to export"),
])
def test_a_bad_argument_is_one_line(tmp_path, capsys, argv, expected):
    run = tmp_path / "run"
    run.mkdir()
    (run / "records.jsonl").write_text(_hand_record("q1").to_json() + "\n")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "records.jsonl").write_text("")
    code = export_main([arg.format(tmp=tmp_path, run=run) for arg in argv])
    err = capsys.readouterr().err
    assert code == 2 and expected in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o").exists()  # a bad repo name is refused before any export


def _hand_record(pid: str, question: str = "What is 1 + 1?") -> Record:
    problem = Problem(id=pid, question=question, answer="2", source="hand")
    return Record(problem_id=pid, attempt="debate", problem=problem, stop_reason="terminated", correct=True,
                  shortcut="1. 1 + 1 = 2", long_thought="1. 1 + 1 = 3\n\nWait.\n\n1. 1 + 1 = 2", final_answer="2")


def test_sft_and_dpo_rows_round_trip_in_trls_conversational_format(oracle_run, tmp_path):
    from trl.data_utils import is_conversational

    journey, _ = paired_sft([*_records(oracle_run), _hand_record("q1")])
    journey[-1]["prompt"] = [{"role": "system", "content": "Think step by step."}, *journey[-1]["prompt"]]
    folder = write_dataset(journey, tmp_path / "sft-round-trip", DatasetCard("journey", "sft", [str(oracle_run)],
                                                                  run_cards([oracle_run])))
    loaded = datasets.load_dataset(str(folder), split="train").to_list()
    assert loaded == journey  # nested prompt/completion lists of any length, exactly
    assert all(is_conversational(row) for row in loaded) and len(loaded[-1]["prompt"]) == 2
    assert "policy_model: oracle/reference-e30" in (folder / "README.md").read_text()
    assert "oracle-rehearsal" in _card_header(folder)["tags"] and "ORACLE DATA" in (folder / "README.md").read_text()
    pairs = [dpo_row(_hand_record("q2").problem, "It is 2.", "It is 3.")]
    dpo = write_dataset(pairs, tmp_path / "dpo-round-trip", DatasetCard("pairs", "dpo"))
    assert datasets.load_dataset(str(dpo), split="train").to_list() == pairs
    # no oracle role anywhere: no tag, no warning
    assert "oracle-rehearsal" not in _card_header(dpo)["tags"] and "ORACLE" not in (dpo / "README.md").read_text()


def test_a_card_is_marked_by_its_rows_even_when_its_runs_have_no_manifest(tmp_path):
    record = _hand_record("q3").model_copy(update={"meta": {"oracle_roles": ["rewriter"]}})
    from training.formats import records_oracle_roles

    card = DatasetCard("journey", "sft", ["x.jsonl"], {"x": {"config": None, "manifest": None}},
                       oracle_roles=records_oracle_roles([record, _hand_record("q4")]))
    folder = write_dataset([{"prompt": "p", "completion": "c", "id": "1"}], tmp_path / "marked", card)
    assert "oracle-rehearsal" in _card_header(folder)["tags"]
    assert "ORACLE DATA (rewriter played by oracle/…)" in (folder / "README.md").read_text()


@pytest.fixture
def hub_calls(monkeypatch) -> list:
    """What would have gone to the Hub: our wiring up to the network call, not a push (none can run offline)."""
    calls = []
    monkeypatch.setattr(datasets.DatasetDict, "push_to_hub",
                        lambda self, repo, **kw: calls.append(("data", repo, kw, self["train"].to_list())))
    monkeypatch.setattr(huggingface_hub.DatasetCard, "push_to_hub",
                        lambda self, repo, **kw: calls.append(("card", repo, kw, self.content)))
    return calls


def test_push_to_hub_hands_the_written_data_and_its_card_to_the_hub(oracle_run, tmp_path, hub_calls):
    out = tmp_path / "thoughts-pushed"
    assert export_main([str(oracle_run), "--out", str(out), "--push-to-hub", "me/long-thoughts", "--private",
                        "--decontaminate", "report"]) == 0
    (data, repo, options, rows), (card, card_repo, card_options, text) = hub_calls
    assert (data, repo, options, card, card_repo) == ("data", "me/long-thoughts", {"private": True}, "card",
                                                      "me/long-thoughts")
    assert rows == load_train(out).to_list() and len(rows) == 3
    assert text == (out / "README.md").read_text() and card_options == {"repo_type": "dataset"}


def test_an_sft_dataset_folder_is_pushed_as_written(tmp_path, hub_calls, capsys):
    rows, _ = paired_sft([_hand_record("q1")])
    write_dataset(rows, tmp_path / "sft" / "dataset", DatasetCard("journey", "sft"))
    assert export_main([str(tmp_path / "sft"), "--push-to-hub", "me/journey"]) == 0  # a training run's OUT
    assert [(kind, repo) for kind, repo, _, _ in hub_calls] == [("data", "me/journey"), ("card", "me/journey")]
    assert hub_calls[0][3] == rows and hub_calls[0][2] == {"private": False}
    assert export_main([str(tmp_path / "sft")]) == 2 and "already a dataset" in capsys.readouterr().err


def test_runs_with_the_same_name_are_told_apart_by_path(tmp_path):
    first, second = tmp_path / "a" / "debate", tmp_path / "b" / "debate"
    assert run_labels([first, tmp_path / "c" / "tree"]) == {first: "debate", tmp_path / "c" / "tree": "tree"}
    assert run_labels([first, second]) == {first: str(first), second: str(second)}


def test_folders_of_the_same_name_never_share_a_cache_entry(tmp_path):
    # datasets keys a local folder's cache by its name and card: two OUT/dataset folders once loaded as one.
    first = [{"id": "a", "prompt": [{"role": "user", "content": "1 + 1?"}]}]
    second = [{"id": "b", "chosen": [{"role": "assistant", "content": "It is 2, since 1 + 1 = 2."}]}] * 2
    for name, rows in (("a", first), ("b", second)):
        write_dataset(rows, tmp_path / name / "dataset", DatasetCard(name, "sft"))
    for name, rows in (("a", first), ("b", second)):
        assert load_train(tmp_path / name / "dataset").to_list() == rows
        assert datasets.load_dataset(str(tmp_path / name / "dataset"), split="train").to_list() == rows
    rewritten = [{"id": "c", "prompt": [{"role": "user", "content": "2 + 2?"}]}]  # same size, same schema
    write_dataset(rewritten, tmp_path / "a" / "dataset", DatasetCard("a", "sft"))
    assert load_train(tmp_path / "a" / "dataset").to_list() == rewritten
