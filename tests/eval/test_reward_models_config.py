"""eval.reward_models writes OUT/config.yaml for the whole command (all its datasets), which repeats it elsewhere
and resumes it in place; no per-dataset file is needed to do either."""

import json

import yaml

from eval.reward_models import main


def test_the_commands_config_repeats_every_dataset_and_resumes_in_place(tmp_path, with_data_dir):
    first, second = tmp_path / "first", tmp_path / "second"
    assert main(["--scorer", "llm-judge", "--scorer-model", "oracle/reference", "--data",
                 "processbench_math,mr_gsm8k", "--limit", "1", "--out", str(first)]) == 0
    recorded = yaml.safe_load((first / "config.yaml").read_text())
    assert (recorded["data"], recorded["limit"], recorded["cache_dir"]) == ("processbench_math,mr_gsm8k", 1, None)
    assert main(["--config", str(first / "config.yaml"), "--out", str(second)]) == 0
    assert set(json.loads((second / "metrics.json").read_text())) >= {"processbench_math", "mr_gsm8k"}
    scored = {name: (first / name / "records.jsonl").read_text() for name in ("processbench_math", "mr_gsm8k")}
    assert main(["--config", str(first / "config.yaml")]) == 0  # its own --out: every item already scored
    assert {name: (first / name / "records.jsonl").read_text() for name in scored} == scored
    assert not (first / "processbench_math" / "processbench_math").exists()
