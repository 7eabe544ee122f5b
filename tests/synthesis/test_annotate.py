import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from protocols.annotation import parse_file
from synthesis.annotate import expand_one
from protocols.types import Problem
from tests.fakes import ScriptedLLM

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "annotations"


def _annotate(*args, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "synthesis.annotate", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_validate_passes_on_the_examples(with_data_dir):
    result = _annotate("validate", str(EXAMPLES))
    assert result.returncode == 0, result.stderr
    assert "3 valid, 0 error(s), 0 warning(s)" in result.stderr


def test_validate_fails_with_line_numbers_on_a_broken_copy(tmp_path, with_data_dir):
    broken = tmp_path / "broken"
    shutil.copytree(EXAMPLES, broken)
    path = broken / "algebra-567.md"
    lines = path.read_text().splitlines()
    lines[lines.index("## note")] = "## hint"
    final = lines.index("## final")
    lines[final + 1] = "\\boxed{7}"
    path.write_text("\n".join(lines) + "\n")
    result = _annotate("validate", str(broken))
    assert result.returncode == 1
    assert f"algebra-567.md:{lines.index('## hint') + 1}: error: unknown marker '## hint'" in result.stderr
    assert f"algebra-567.md:{final + 1}: warning: final answer '7' differs from the gold answer '1'" in result.stderr


def test_new_writes_one_template_per_problem_that_validates_once_filled(tmp_path, with_data_dir):
    result = _annotate("new", "--problems", "math500", "--ids", "test/algebra/567.json", "test/prealgebra/105.json",
                       "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    files = sorted(tmp_path.glob("*.md"))
    assert [f.name for f in files] == ["algebra-567.md", "prealgebra-105.md"]
    template = files[0].read_text()
    assert "# problem: test/algebra/567.json" in template and "Gold answer" in template and "|5x-1|" in template
    _, issues = parse_file(files[0])
    messages = {issue.message.split(":")[0] for issue in issues}
    assert messages >= {"empty attempt", "empty final"} and "no final answer" not in messages  # one error each
    again = _annotate("new", "--problems", "math500", "--ids", "test/algebra/567.json", "--out", str(tmp_path))
    assert "kept" in again.stderr and files[0].read_text() == template  # never overwrites a person's work


async def test_expansion_record_keeps_tree_and_flags_unfaithful_text():
    annotation, _ = parse_file(EXAMPLES / "prealgebra-105.md")
    problem = Problem(id="test/prealgebra/105.json", question="Skater?", answer="\\text{east}")
    faithful = ("Whole turns do not matter, so I divide by 360: 2250 / 360 = 6.25 turns. A quarter turn from north... "
                "west? Wait, to her right is clockwise. So a quarter turn clockwise from north is east. \\boxed{east}")
    record = await expand_one(annotation, problem, _config(), ScriptedLLM(expander=[faithful]))
    assert record.attempt == "human_annotation" and record.stop_reason == "expanded" and record.correct
    assert record.long_thought == faithful and record.shortcut.endswith("\\boxed{\\text{east}}")
    lazy = await expand_one(annotation, problem, _config(), ScriptedLLM(expander=["She faces \\boxed{east}."]))
    assert lazy.stop_reason == "expansion_unfaithful" and lazy.meta["rewrite_faithful"] is False
    assert lazy.long_thought == lazy.meta["draft"] and "points her west" in lazy.long_thought


def _config():
    from synthesis.annotate import ExpandConfig

    return ExpandConfig()


@pytest.mark.slow
def test_expand_on_the_embedded_model_writes_three_records(tmp_path, with_data_dir, embedded_api_base):
    out = tmp_path / "annot"
    env = {**os.environ, "LONGTHOUGHT_EMBEDDED_API_BASE": embedded_api_base}
    result = _annotate("expand", str(EXAMPLES), "--out", str(out), "--expander-max-tokens", "128", env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert len(records) == 3 and {r["attempt"] for r in records} == {"human_annotation"}
    assert all(r["turns"][1]["role"] == "expander" and r["turns"][1]["content"] for r in records)
    again = _annotate("expand", str(EXAMPLES), "--out", str(out), "--expander-max-tokens", "128", env=env)
    assert again.returncode == 0 and "nothing to do" in again.stderr


def test_expand_takes_every_run_flag_and_refuses_the_old_cap_name(tmp_path, with_data_dir):
    dry = _annotate("expand", str(EXAMPLES), "--out", str(tmp_path / "run"), "--dry-run", "--limit", "1")
    assert dry.returncode == 0 and "dry run: 1 problems" in dry.stdout + dry.stderr, dry.stderr
    assert not (tmp_path / "run").exists()  # a dry run writes nothing
    old = _annotate("expand", str(EXAMPLES), "--out", str(tmp_path / "run"), "--max-tokens", "128")
    assert old.returncode == 2 and "--max-tokens was renamed" in old.stderr and "--expander-max-tokens" in old.stderr
    assert old.stderr.strip().count("\n") == 0
    assert _annotate("--help").returncode == 0 and _annotate("bogus").returncode == 2


def test_two_annotations_of_one_problem_are_refused_naming_both_files(tmp_path, with_data_dir, capsys):
    from synthesis import annotate

    examples = EXAMPLES
    folder = tmp_path / "annotations"
    folder.mkdir()
    for name in ("algebra-567.md", "prealgebra-105.md"):
        (folder / name).write_text((examples / name).read_text())
    (folder / "algebra-567-second-annotator.md").write_text((examples / "algebra-567.md").read_text())
    assert annotate.main(["validate", str(folder)]) == 1
    out = capsys.readouterr()
    line = next(line for line in out.err.splitlines() if "already annotated in" in line)
    assert "algebra-567-second-annotator.md" in line and "algebra-567.md" in line
    # expand refuses in one line before anything runs: no run directory, so no record can be lost on a resume
    code = annotate.main(["expand", str(folder), "--out", str(tmp_path / "run"), "--model", "oracle/reference"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0 and "already annotated" in err, err
    assert not (tmp_path / "run").exists()


def test_expand_ids_are_recorded_so_a_resume_with_others_is_refused_and_config_repeats_them(tmp_path, with_data_dir,
                                                                                           capsys):
    from synthesis import annotate

    run = tmp_path / "run"
    chosen = ["expand", str(EXAMPLES), "--ids", "test/algebra/567.json", "--model", "oracle/reference"]
    assert annotate.main([*chosen, "--out", str(run)]) == 0
    assert yaml.safe_load((run / "config.yaml").read_text())["human_annotation"]["ids"] == ["test/algebra/567.json"]
    capsys.readouterr()
    others = ["expand", str(EXAMPLES), "--ids", "test/prealgebra/105.json", "--model", "oracle/reference"]
    assert annotate.main([*others, "--out", str(run)]) == 2
    assert "ids" in capsys.readouterr().err
    again = tmp_path / "again"
    assert annotate.main(["expand", str(EXAMPLES), "--config", str(run / "config.yaml"), "--out", str(again)]) == 0
    assert len((again / "records.jsonl").read_text().splitlines()) == 1
