"""Formats, SFT, the hf/ serving backend and DPO, on the embedded model's real weights (CPU)."""

import asyncio
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import yaml

from protocols.types import Problem, Record
from training.formats import numbered_solution, paired_sft, solution_rows
from protocols.types import Sample, SampleSet
from training.sample import make_pairs

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _record(i: int, correct: bool = True, trial: bool = True) -> Record:
    from protocols.types import Step, ThoughtTree

    problem = Problem(id=f"q{i}", question=f"What is {i} + {i}?", answer=str(2 * i))
    tree = ThoughtTree()
    if trial:  # the off-by-one step the long thought backtracks from
        tree.add(0, step=Step(index=1, text=f"{i} + {i} = {2 * i + 1}"), correct=False)
    tree.add(0, step=Step(index=1, text=f"{i} + {i} = {2 * i}"), correct=True)
    return Record(problem_id=problem.id, attempt="debate", problem=problem, stop_reason="terminated", correct=correct,
                  tree=tree,
                  shortcut=f"1. {i} + {i} = {2 * i}\n2. \\boxed{{{2 * i}}}" if correct else None,
                  long_thought=f"1. {i} + {i} = {2 * i + 1}\n\nWait, that is off by one.\n\n1. {i} + {i} = {2 * i}\n\n"
                               f"So the final answer is \\boxed{{{2 * i}}}.")


def _dataset_rows(out: Path) -> list[dict]:
    """The training rows a run wrote to OUT/dataset, read as the trainers read them."""
    from training.formats import load_train

    return load_train(out / "dataset").to_list()


def _write_run(directory: Path, records: list[Record]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "records.jsonl").write_text("".join(record.to_json() + "\n" for record in records))
    return directory


def test_journey_and_shortcut_datasets_cover_the_same_problems():
    journey, shortcut = paired_sft([_record(1), _record(2, correct=False), _record(3)])
    assert [row["id"] for row in journey] == [row["id"] for row in shortcut] == ["q1", "q3"]
    assert journey[0]["prompt"] == shortcut[0]["prompt"] and journey[0]["prompt"][0]["role"] == "user"
    assert "Wait" in journey[0]["completion"][0]["content"] and "Wait" not in shortcut[0]["completion"][0]["content"]


def test_reference_solutions_become_numbered_steps():
    text = numbered_solution("We have $x = 2$. Then $x^2 = 4$.\n\nSo the answer is $\\boxed{4}$.")
    assert text == "1. We have $x = 2$.\n2. Then $x^2 = 4$.\n3. So the answer is $\\boxed{4}$."
    rows = solution_rows([Problem(id="a", question="?", meta={"solution": "It is $\\boxed{1}$."}), Problem(id="b", question="?")])
    assert [row["id"] for row in rows] == ["a"]


def test_pairs_draw_positives_and_negatives_and_count_the_skipped():
    def sample_set(pid, good, bad, solution=None):
        problem = Problem(id=pid, question="?", answer="1", meta={"solution": solution} if solution else {})
        samples = [Sample(text=f"good {i}", answer="1", correct=True) for i in range(good)]
        samples += [Sample(text=f"bad {i}", answer="2", correct=False) for i in range(bad)]
        return SampleSet(problem_id=pid, problem=problem, model="m", samples=samples)

    sets = [sample_set("a", 7, 9), sample_set("b", 0, 5), sample_set("c", 4, 0), sample_set("d", 0, 3, "It is $\\boxed{1}$.")]
    pairs, stats = make_pairs(sets, pairs=5, seed=0)
    assert len(pairs) == 5 and {p.id for p, _, _ in pairs} == {"a"}
    assert len({good for _, good, _ in pairs}) == 5 and len({bad for _, _, bad in pairs}) == 5
    assert (stats.no_positive, stats.no_negative) == (2, 1)
    assert make_pairs(sets, pairs=5, seed=0)[0] == pairs  # seeded
    with_gold, stats = make_pairs(sets, pairs=5, seed=0, gold_fallback=True)
    assert stats.gold_fallback == 1 and [p.id for p, _, _ in with_gold].count("d") == 1


@pytest.mark.slow
def test_prompt_tokens_are_masked_in_the_sft_dataset():
    import datasets
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from agents.backends.local_models import resolve

    path = resolve("embedded/smollm2-135m")
    tokenizer = AutoTokenizer.from_pretrained(path)
    journey, _ = paired_sft([_record(1)])
    trainer = SFTTrainer(model=AutoModelForCausalLM.from_pretrained(path), processing_class=tokenizer,
                         args=SFTConfig(output_dir="/tmp/longthought-mask-test", use_cpu=True, report_to="none"),
                         train_dataset=datasets.Dataset.from_list(journey))
    row = trainer.train_dataset[0]
    learned = tokenizer.decode([token for token, label in zip(row["input_ids"], row["labels"], strict=True) if label != -100])
    assert learned.startswith("1. 1 + 1 = 3") and "What is 1 + 1?" not in learned
    assert row["labels"][0] == -100


def _train(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "training.sft", *args], capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_sft_steps_change_the_weights_the_model_serves_through_hf_and_resume_continues(tmp_path):
    from safetensors.torch import load_file

    from agents.backends.local_models import resolve
    from agents.calls.client import LLMClient

    run = _write_run(tmp_path / "run", [_record(i) for i in range(1, 5)])
    out = tmp_path / "sft"
    common = ["--data", str(run), "--target", "journey", "--out", str(out), "--per-device-train-batch-size", "2",
              "--max-length", "128", "--save-steps", "1", "--learning-rate", "1e-4"]
    first = _train(*common, "--max-steps", "2")
    assert first.returncode == 0, first.stderr[-3000:]
    summary = json.loads((out / "training_summary.json").read_text())
    assert summary["global_step"] == 2 and summary["examples"] == 4 and summary["truncated"] == 0
    before = load_file(str(Path(resolve("embedded/smollm2-135m")) / "model.safetensors"))
    after = load_file(str(out / "final" / "model.safetensors"))
    changed = [name for name in before if not before[name].equal(after[name])]
    assert len(changed) > len(before) // 2
    card = (out / "dataset" / "README.md").read_text()
    assert str(run) in card and "paired_problems" in card
    from training.sft import parse

    script, config = parse(["--config", str(out / "config.yaml")])  # the resolved config runs it again
    assert (script.data, config.learning_rate, config.max_length, config.max_steps) == (str(run), 1e-4, 128, 2)

    async def ask():
        return await LLMClient(model=f"hf/{out / 'final'}").complete(
            [{"role": "user", "content": "What is 1 + 1?"}], max_tokens=12, temperature=0.0)

    completion = asyncio.run(ask())
    assert completion.text.strip() and completion.completion_tokens > 0 and completion.prompt_tokens > 0

    resumed = _train(*common, "--max-steps", "3", "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    summary = json.loads((out / "training_summary.json").read_text())
    assert summary["global_step"] == 3 and summary["resumed_from"].endswith("checkpoint-2")


def test_a_config_file_sets_values_and_flags_override_it(tmp_path):
    from training.dpo import parse as parse_dpo
    from training.sft import parse as parse_sft

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("learning_rate: 3.0e-4\nnum_train_epochs: 2\nsamples: 6\nsampler_model: hosted_vllm/judge\n")
    sft_recipe = tmp_path / "sft.yaml"
    sft_recipe.write_text("learning_rate: 3.0e-4\nnum_train_epochs: 2\n")
    script, config = parse_sft(["--data", "runs/x", "--out", str(tmp_path / "o"), "--config", str(sft_recipe),
                                "--learning-rate", "1e-4"])
    assert (config.learning_rate, config.num_train_epochs) == (1e-4, 2)  # the flag wins, the file fills the rest
    assert (config.output_dir, config.logging_steps, config.max_length, script.data) == (str(tmp_path / "o"), 1, None, "runs/x")
    run_config, sampling, args, config = parse_dpo(["--config", str(recipe), "--out", str(tmp_path / "d"), "--seed", "7",
                                                    "--num-train-epochs", "3"])
    assert (config.learning_rate, config.num_train_epochs, sampling.samples) == (3e-4, 3, 6)
    assert sampling.sampler_model == "hosted_vllm/judge"  # from the file: not replaced by the trained model
    assert (run_config.seed, config.seed, config.output_dir) == (7, 7, str(tmp_path / "d"))
    assert parse_dpo(["--out", "o", "--model", "m/x"])[1].sampler_model == "hf/m/x"  # default: the model itself


def test_the_config_a_run_writes_parses_again(tmp_path):
    """OUT/config.yaml round-trips: TRL resolves pad_to_multiple_of "auto" to null, which the file must take back
    (resume and `--config OUT/config.yaml` read it); a null for a setting that admits none is still refused."""
    from training.common import write_config
    from training.sft import parse as parse_sft

    script, config = parse_sft(["--data", "runs/x", "--out", str(tmp_path / "o"), "--max-steps", "3"])
    written = write_config(tmp_path / "o", (script, config))
    assert yaml.safe_load(written.read_text())["pad_to_multiple_of"] is None
    again_script, again = parse_sft(["--config", str(written)])
    assert (again.max_steps, again.pad_to_multiple_of, again_script.data) == (3, None, "runs/x")
    written.write_text(written.read_text().replace("max_steps: 3", "max_steps: null"))
    with pytest.raises(ValueError, match=r"max_steps: expected an integer, got nothing \(null\)"):
        parse_sft(["--config", str(written)])


def test_token_settings_round_trip_and_a_hub_token_never_reaches_the_file(tmp_path):
    """transformers' to_dict() masks every *_token setting: "<PAD_TOKEN>" read back became the pad token and
    `--config OUT/config.yaml` stopped ("not found in the vocabulary"). The hub token stays out of the file."""
    from training.common import write_config
    from training.sft import parse as parse_sft

    script, config = parse_sft(["--data", "runs/x", "--out", str(tmp_path / "o"), "--eos-token", "<|im_end|>",
                                "--hub-token", "hf_PLANTEDsecret123"])
    written = write_config(tmp_path / "o", (script, config))
    text = written.read_text()
    assert "PLANTED" not in text and "hub_token" not in text and "<PAD_TOKEN>" not in text
    _, again = parse_sft(["--config", str(written)])
    assert (again.eos_token, again.pad_token, again.hub_token) == ("<|im_end|>", None, None)
    # a file written before the fix: its masks are read as unset, not as tokens
    masks = {name: f"<{name.upper()}>" for name in ("pad_token", "eos_token", "hub_token")}
    written.write_text(yaml.safe_dump(yaml.safe_load(text) | masks))
    with warnings.catch_warnings():  # TRL warns that pad_token is deprecated: the old file did set it
        warnings.simplefilter("ignore", FutureWarning)
        _, old = parse_sft(["--config", str(written)])
    assert (old.eos_token, old.pad_token, old.hub_token) == (None, None, None)


def test_a_length_sized_from_the_data_is_recorded_unset_so_the_config_sizes_other_data_again(tmp_path):
    run = _write_run(tmp_path / "run", [_record(i) for i in range(1, 3)])
    out = tmp_path / "sft"
    trained = _train("--data", str(run), "--target", "journey", "--out", str(out), "--max-steps", "1",
                     "--per-device-train-batch-size", "2", "--save-strategy", "no")
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert json.loads((out / "training_summary.json").read_text())["max_length"] > 0  # what it came to
    recorded = yaml.safe_load((out / "config.yaml").read_text())
    assert (recorded["max_length"], recorded["eos_token"], recorded["pad_token"]) == (None, None, None)
    from training.sft import parse as parse_sft

    _, again = parse_sft(["--config", str(out / "config.yaml"), "--data", "runs/other", "--out", str(tmp_path / "b")])
    assert again.max_length is None and again.max_steps == 1


@pytest.mark.parametrize("flag,hint", [("--epochs", "--epochs was renamed: use --num-train-epochs"),
                                       ("--batch-size", "--batch-size was renamed: use --per-device-train-batch-size")])
def test_an_old_flag_gets_a_one_line_hint(tmp_path, flag, hint):
    result = _train("--data", "runs/x", "--out", str(tmp_path / "o"), flag, "2")
    assert result.returncode == 2 and hint in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_sft_counts_truncated_examples_and_refuses_an_unusable_run(tmp_path):
    run = _write_run(tmp_path / "run", [_record(1, correct=False)])
    result = _train("--data", str(run), "--target", "shortcut", "--out", str(tmp_path / "o"))
    assert result.returncode == 2 and "no usable examples for --target shortcut" in result.stderr


@pytest.mark.slow
def test_dpo_steps_on_pairs_from_a_small_sampled_run(tmp_path, embedded_api_base):
    out = tmp_path / "dpo"
    result = subprocess.run(
        [sys.executable, "-m", "training.dpo", "--problems", str(EXAMPLES / "problems" / "arithmetic.jsonl"),
         "--limit", "2", "--samples", "4", "--pairs", "2", "--gold-fallback", "--max-steps", "2", "--max-length", "128",
         "--sampler-max-tokens", "160", "--out", str(out)],
        capture_output=True, text=True, timeout=900,
        env={**os.environ, "LONGTHOUGHT_EMBEDDED_API_BASE": embedded_api_base},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((out / "training_summary.json").read_text())
    assert summary["global_step"] == 2 and summary["pairs"]["pairs"] >= 1
    rows = _dataset_rows(out)
    assert all({"prompt", "chosen", "rejected"} <= row.keys() for row in rows)
    assert len((out / "samples" / "records.jsonl").read_text().splitlines()) == 2
    assert (out / "final" / "model.safetensors").is_file()
    resolved = yaml.safe_load((out / "config.yaml").read_text())
    assert (resolved["pairs"], resolved["max_length"], resolved["samples"], resolved["learning_rate"]) == (2, 128, 4, 5e-7)
    # The sampler was the trained model (on-policy): repeating with another --model samples from that one.
    from agents.backends import serving_string
    from training.dpo import parse as parse_dpo

    assert "sampler_model" not in resolved
    _, sampling, _, _ = parse_dpo(["--config", str(out / "config.yaml"), "--model", "runs/other/final",
                                   "--out", str(tmp_path / "again")])
    assert sampling.sampler_model == serving_string("runs/other/final")


@pytest.mark.parametrize("name,kind,stage", [("multi_gpu", "MULTI_GPU", None), ("deepspeed_zero2", "DEEPSPEED", 2),
                                             ("deepspeed_zero3", "DEEPSPEED", 3)])
def test_shipped_accelerate_configs_load(name, kind, stage):
    from accelerate.commands.config.config_args import load_config_from_file

    config = load_config_from_file(str(Path(__file__).resolve().parents[2] / "training" / "configs" / f"{name}.yaml"))
    assert config.distributed_type.name == kind
    assert (config.deepspeed_config or {}).get("zero_stage") == stage


@pytest.mark.slow
def test_two_processes_train_as_one_data_parallel_group(tmp_path):
    # The multi-GPU path on CPU: torchrun starts 2 processes that form one gloo group (accelerate's MULTI_CPU).
    # The main process alone writes the dataset, the summary and the final model.
    torchrun = Path(sys.executable).parent / "torchrun"
    out = tmp_path / "ddp"
    result = subprocess.run(
        [str(torchrun), "--nproc_per_node", "2", "-m", "training.sft", "--data", str(EXAMPLES / "problems" / "arithmetic.jsonl"),
         "--target", "solution", "--out", str(out), "--max-steps", "2", "--per-device-train-batch-size", "1",
         "--max-length", "128", "--save-strategy", "no"],
        capture_output=True, text=True, timeout=600, cwd=EXAMPLES.parent)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((out / "training_summary.json").read_text())
    assert summary["processes"] == 2 and summary["global_step"] == 2
    assert (result.stdout + result.stderr).count('"global_step"') == 1, "only the main process reports"
    assert (out / "final" / "model.safetensors").is_file() and len(_dataset_rows(out)) == 6


@pytest.mark.slow
def test_lora_training_saves_a_merged_full_model(tmp_path):
    from safetensors.torch import load_file

    from agents.backends.local_models import resolve

    out = tmp_path / "lora"
    result = _train("--data", str(EXAMPLES / "problems" / "arithmetic.jsonl"), "--target", "solution", "--out", str(out),
                    "--max-steps", "1", "--lora", "--save-strategy", "no", "--max-length", "128",
                    "--per-device-train-batch-size", "1", "--learning-rate", "1e-3")
    assert result.returncode == 0, result.stderr[-3000:]
    before = load_file(str(Path(resolve("embedded/smollm2-135m")) / "model.safetensors"))
    after = load_file(str(out / "final" / "model.safetensors"))
    assert set(after) == set(before), "merged: the base model's tensors, no adapter tensors"
    assert any(not before[name].equal(after[name]) for name in before), "the adapter's update is merged in"
    assert (out / "adapter" / "adapter_config.json").is_file()


@pytest.mark.slow
def test_multi_process_dpo_trains_on_samples_made_first(tmp_path, embedded_api_base):
    # Under a multi-process launch DPO never samples behind a barrier: it asks for --sample-only first.
    torchrun = Path(sys.executable).parent / "torchrun"
    env = {**os.environ, "LONGTHOUGHT_EMBEDDED_API_BASE": embedded_api_base}
    common = ["-m", "training.dpo", "--problems", str(EXAMPLES / "problems" / "arithmetic.jsonl"), "--limit", "2",
              "--samples", "4", "--pairs", "1", "--gold-fallback", "--sampler-max-tokens", "160", "--max-steps", "1",
              "--per-device-train-batch-size", "1", "--max-length", "192", "--save-strategy", "no",
              "--out", str(tmp_path / "dpo")]
    launch = [str(torchrun), "--nproc_per_node", "2", *common]
    refused = subprocess.run(launch, capture_output=True, text=True, timeout=600, env=env)
    assert refused.returncode != 0 and "sample first in one process" in refused.stderr, refused.stderr[-2000:]
    sampled = subprocess.run([sys.executable, *common, "--sample-only"], capture_output=True, text=True, timeout=600,
                             env=env)
    assert sampled.returncode == 0, sampled.stderr[-2000:]
    assert len(_dataset_rows(tmp_path / "dpo")) == 2
    assert not (tmp_path / "dpo" / "final").exists()
    trained = subprocess.run(launch, capture_output=True, text=True, timeout=600, env=env)
    assert trained.returncode == 0, trained.stderr[-3000:]
    summary = json.loads((tmp_path / "dpo" / "training_summary.json").read_text())
    assert summary["global_step"] == 1 and summary["pairs"]["pairs"] == 2
    assert (tmp_path / "dpo" / "final" / "model.safetensors").is_file()


def test_samples_cut_at_the_token_cap_never_become_pairs():
    problem = Problem(id="a", question="?", answer="1")
    samples = [Sample(text="good", answer="1", correct=True, finish_reason="stop"),
               Sample(text="cut before its box", answer=None, correct=False, finish_reason="length"),
               Sample(text="bad", answer="2", correct=False, finish_reason="stop"),
               Sample(text="good but cut", answer="1", correct=True, finish_reason="length")]
    pairs, stats = make_pairs([SampleSet(problem_id="a", problem=problem, model="m", samples=samples)], pairs=5)
    assert [(good, bad) for _, good, bad in pairs] == [("good", "bad")]  # neither cut sample is chosen or rejected
    assert stats.truncated_excluded == 2
    only_cut = [Sample(text="good", answer="1", correct=True), Sample(text="cut", answer=None, correct=False,
                                                                          finish_reason="length")]
    pairs, stats = make_pairs([SampleSet(problem_id="a", problem=problem, model="m", samples=only_cut)], pairs=5)
    assert not pairs and stats.no_negative == 1


async def test_each_sample_keeps_its_finish_reason():
    from agents.calls.client import Completion
    from agents.roles.sampling import sample_and_judge

    class TwoSamples:
        model = "m"
        usage: dict = {}

        def scoped(self):
            return self

        async def complete(self, messages, **kwargs):
            return Completion(texts=["\\boxed{1}", "so the answer is"], model="m", prompt_tokens=1, completion_tokens=2,
                              cost=0.0, latency_s=0.0, finish_reasons=["stop", "length"])

    result = await sample_and_judge(Problem(id="a", question="?", answer="1"), TwoSamples(), n=2, temperature=0.7,
                                    max_tokens=8)
    assert [s.finish_reason for s in result.samples] == ["stop", "length"]
    assert [s.truncated for s in result.samples] == [False, True]


def test_max_length_is_sized_from_the_data_unless_given():
    from training.common import MAX_LENGTH_CAP, sized_max_length

    assert sized_max_length([120, 3000, 800], None) == (3000, 0)  # the longest example: nothing is cut
    assert sized_max_length([120, 3000, 800], 1024) == (1024, 1)  # as asked, and the cut one is counted
    assert sized_max_length([MAX_LENGTH_CAP * 2, 10], None) == (MAX_LENGTH_CAP, 1)


def test_journeys_need_a_real_trial_and_pairs_are_a_seeded_sample_shared_by_both_targets():
    from training.formats import select_pairs

    records = [_record(i) for i in range(10)] + [_record(10, trial=False), _record(11, correct=False)]
    chosen, counts = select_pairs(records)
    assert (counts.records, counts.paired, counts.without_real_trial, counts.not_correct_or_incomplete) == (12, 10, 1, 1)
    assert "q10" not in {r.problem_id for r in chosen}  # its "journey" is the shortcut told at length
    assert len(select_pairs(records, require_trial=False)[0]) == 11
    four, counts = select_pairs(records, pairs=4, seed=3)
    assert counts.selected == 4 and [r.problem_id for r in four] == [r.problem_id for r in select_pairs(
        list(reversed(records)), pairs=4, seed=3)[0]]  # the seed and the problems decide, not the reading order
    assert {r.problem_id for r in four} != {r.problem_id for r in select_pairs(records, pairs=4, seed=4)[0]}
    journey, shortcut = paired_sft(four)
    assert [row["id"] for row in journey] == [row["id"] for row in shortcut]


def test_pairs_count_and_draw_problems_not_rows():
    from training.formats import select_pairs

    # q0..q3 solved by two attempts each: 8 rows of 4 problems
    records = [_record(i).model_copy(update={"attempt": attempt}) for i in range(4)
               for attempt in ("debate", "critique_loop")]
    chosen, counts = select_pairs(records)
    assert (counts.paired, counts.paired_problems) == (8, 4)
    two, counts = select_pairs(records, pairs=2, seed=1)
    assert (counts.selected, counts.selected_problems) == (4, 2)  # two problems, each with both of its rows
    assert len({r.problem_id for r in two}) == 2


def test_the_model_card_names_a_local_base_model(tmp_path):
    from training.common import name_base_model

    card = tmp_path / "README.md"
    card.write_text("This model is a fine-tuned version of [None](https://huggingface.co/None).\n")
    name_base_model(card, "runs/sft-phase1/final")
    assert card.read_text() == "This model is a fine-tuned version of `runs/sft-phase1/final`.\n"
    name_base_model(tmp_path / "absent.md", "x")  # no card: nothing to do
