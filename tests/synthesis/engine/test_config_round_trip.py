"""A run's own OUT/config.yaml is a --config file: it repeats the run into another --out, and resumes it in place
(its sections, attempt / run / <attempt>, are read as the one mapping of flags they are)."""

import yaml

from protocols.cli import run_settings

ORACLE = ["--policy-model", "oracle/reference-e30", "--critic-model", "oracle/reference"]


def _settings(path) -> dict:
    data = yaml.safe_load(path.read_text())
    data["run"].pop("out")
    return data


def test_a_debates_config_yaml_repeats_it_elsewhere_and_resumes_it_in_place(tmp_path, with_data_dir, capsys):
    from synthesis import debate

    first, second = tmp_path / "first", tmp_path / "second"
    assert debate.main(["--problems", "math_train", "--limit", "2", "--max-turns", "12", *ORACLE,
                        "--out", str(first)]) == 0
    assert debate.main(["--config", str(first / "config.yaml"), "--out", str(second)]) == 0
    assert _settings(second / "config.yaml") == _settings(first / "config.yaml")
    assert len((second / "records.jsonl").read_text().splitlines()) == 2
    capsys.readouterr()
    assert debate.main(["--config", str(first / "config.yaml")]) == 0  # its own --out: nothing left to do
    assert "nothing to do" in capsys.readouterr().err


def test_only_a_runs_own_shape_is_flattened():
    recorded = {"attempt": "debate", "run": {"limit": 2}, "debate": {"max_turns": 8}, "router_models": {}}
    assert run_settings(recorded) == {"limit": 2, "max_turns": 8}
    assert run_settings({"attempt": "debate", "limit": 2}) == {"attempt": "debate", "limit": 2}  # a flat file
    odd = {"attempt": "debate", "run": {"limit": 2}, "something": 1}
    assert run_settings(odd) is odd  # unknown sections: left for the reader to name
