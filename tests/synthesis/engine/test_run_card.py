"""The one reader of a run's card (config.yaml, manifest.json, training_summary.json), and its three readers: eval's
report, training's dataset cards and the viewer, each keeping what it does with a card that is absent or corrupt."""

import json
from pathlib import Path

import pytest
import yaml

from eval.run_cards import accuracy_model, model_stage
from eval.viewer.data import Store
from synthesis.engine.rehearsal import run_roles
from synthesis.engine.run_card import RunCard
from training.formats import run_cards

CONFIG = {"attempt": "debate", "run": {"problems": "math500", "seed": 0}, "debate": {"max_turns": 6}}
MANIFEST = {"attempt": "debate", "status": "completed", "models": {"policy": "oracle/reference-e30",
                                                                   "critic": "litellm/gpt-4o"},
            "command": ["python", "-m", "synthesis.debate"], "seed": 0}
SUMMARY = {"target": "journey", "model": "hf/base", "train_loss": 0.5}


def _run(folder: Path, *, config: str | None = None, manifest: str | None = None, summary: str | None = None,
         records: str | None = None) -> Path:
    folder.mkdir(parents=True)
    for name, text in (("config.yaml", config), ("manifest.json", manifest), ("training_summary.json", summary),
                       ("records.jsonl", records)):
        if text is not None:
            (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_a_folder_with_all_three_files_reads_each_as_written(tmp_path):
    run = _run(tmp_path / "run", config=yaml.safe_dump(CONFIG), manifest=json.dumps(MANIFEST),
               summary=json.dumps(SUMMARY))
    card = RunCard(run)
    assert (card.config, card.manifest, card.summary) == (CONFIG, MANIFEST, SUMMARY)
    assert card.task == "debate" and card.oracle_roles == ["policy"]


def test_a_folder_with_none_of_them_is_none_three_times_and_no_error(tmp_path):
    card = RunCard(_run(tmp_path / "bare", records=""))
    assert (card.config, card.manifest, card.summary, card.task, card.oracle_roles) == (None, None, None, None, [])
    assert RunCard(tmp_path / "no-such-folder").config is None


@pytest.mark.parametrize(("name", "text", "message"), [
    ("manifest.json", '{"attempt": "debate",', r"manifest\.json: not valid JSON \(line 1\)"),
    ("manifest.json", '["debate"]', r"manifest\.json: expected a JSON object, got list"),
    ("manifest.json", b"\xff\xfe{}", r"manifest\.json: not valid JSON"),
    ("training_summary.json", "", r"training_summary\.json: not valid JSON \(line 1\)"),
    ("config.yaml", "run: {problems: [unclosed\n", r"config\.yaml: not valid YAML \(line 2\)"),
    ("config.yaml", "- debate\n", r"config\.yaml: expected a mapping of the run's settings, got list"),
])
def test_a_corrupt_file_is_one_line_naming_it_strictly_and_none_leniently(tmp_path, name, text, message):
    run = tmp_path / "run"
    run.mkdir()
    (run / name).write_bytes(text if isinstance(text, bytes) else text.encode())
    attribute = {"config.yaml": "config", "manifest.json": "manifest", "training_summary.json": "summary"}[name]
    with pytest.raises(ValueError, match=message) as raised:
        getattr(RunCard(run), attribute)
    assert str(run / name) in str(raised.value) and "\n" not in str(raised.value)
    assert getattr(RunCard(run, strict=False), attribute) is None


def test_a_reader_fails_only_on_the_files_it_reads(tmp_path):
    # eval's report reads an accuracy run's config.yaml, never its manifest: a corrupt manifest must not stop it.
    run = _run(tmp_path / "accuracy", config=yaml.safe_dump({"accuracy": {"model": "hf/base"}}), manifest="{")
    assert RunCard(run).config == {"accuracy": {"model": "hf/base"}}
    assert accuracy_model(run) == "hf/base"
    with pytest.raises(ValueError, match="manifest.json: not valid JSON"):
        RunCard(run).manifest


def test_eval_reads_a_training_runs_stage_from_its_summary_and_names_a_corrupt_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _run(tmp_path / "sft", config=yaml.safe_dump({"model": "hf/base-model"}), summary=json.dumps(SUMMARY))
    stage = model_stage("hf/sft/final", tmp_path)
    assert (stage.stage, stage.trained_from, stage.summary) == ("journey", "hf/base-model", SUMMARY)
    _run(tmp_path / "broken", summary="{")
    with pytest.raises(ValueError, match=r"broken/training_summary\.json: not valid JSON"):
        model_stage("hf/broken/final", tmp_path)


def test_training_cards_keep_the_manifests_essentials_and_name_a_corrupt_manifest(tmp_path):
    run = _run(tmp_path / "debate", config=yaml.safe_dump(CONFIG), manifest=json.dumps(MANIFEST), records="")
    bare = _run(tmp_path / "bare", records="")
    cards = run_cards([run, bare / "records.jsonl"])
    assert cards["debate"]["config"] == CONFIG
    assert cards["debate"]["manifest"] == {"attempt": "debate", "status": "completed", "models": MANIFEST["models"],
                                           "seed": 0}  # the command line (argv, local paths) is left out
    assert cards["bare"] == {"config": None, "manifest": None}
    (run / "manifest.json").write_text('{"attempt": ')
    with pytest.raises(ValueError, match=r"debate/manifest\.json: not valid JSON"):
        run_cards([run])


def test_the_viewer_and_oracle_marks_pass_over_a_corrupt_manifest(tmp_path):
    good = _run(tmp_path / "samples", manifest=json.dumps({"attempt": "dpo_samples", "models": MANIFEST["models"]}),
                records="")
    corrupt = _run(tmp_path / "corrupt", manifest="{not json", records="")
    store = Store([good, corrupt])
    assert [(run.task, run.kind, run.oracle_roles) for run in store.runs] == [
        ("dpo_samples", "samples", ["policy"]), (None, None, [])]
    assert run_roles(good) == ["policy"] and run_roles(corrupt) == []
