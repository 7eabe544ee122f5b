"""Training precision: fp32 on CPUs that only emulate bf16, bf16 where the hardware has it, TRL's --bf16 overrides."""

import pytest
import torch

from training import common


def _cpu(monkeypatch: pytest.MonkeyPatch, *, avx512_bf16: bool, amx: bool) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)


@pytest.mark.parametrize("avx512_bf16,amx,expected", [(False, False, False), (True, False, True), (False, True, True)])
def test_the_default_follows_the_cpus_native_bf16(monkeypatch, avx512_bf16, amx, expected):
    _cpu(monkeypatch, avx512_bf16=avx512_bf16, amx=amx)
    flags, why = common.precision_default()
    assert flags == {"bf16": expected, "fp16": False}
    assert ("neither avx512_bf16 nor amx" in why) == (not expected)


def test_a_cpu_without_bf16_trains_in_fp32_and_the_flag_overrides(monkeypatch, tmp_path):
    from training.dpo import parse as parse_dpo
    from training.sft import parse as parse_sft

    _cpu(monkeypatch, avx512_bf16=False, amx=False)
    _, config = parse_sft(["--data", "runs/x", "--out", str(tmp_path / "o")])
    assert (config.bf16, config.fp16) == (False, False)
    assert common.load_dtype(config) == torch.float32  # a bf16 checkpoint must not train in emulated bf16
    assert common.precision_line(config).startswith("precision fp32, default; CPU ")
    _, forced = parse_sft(["--data", "runs/x", "--out", str(tmp_path / "o"), "--bf16", "true"])
    assert forced.bf16 and common.load_dtype(forced) == "auto"
    assert "precision bf16, set by flag (default here: fp32)" in common.precision_line(forced)
    assert parse_dpo(["--out", str(tmp_path / "d")])[3].bf16 is False


def test_a_cpu_with_bf16_keeps_it_and_the_flag_turns_it_off(monkeypatch, tmp_path):
    from training.sft import parse as parse_sft

    _cpu(monkeypatch, avx512_bf16=False, amx=True)
    assert parse_sft(["--data", "runs/x", "--out", str(tmp_path / "o")])[1].bf16 is True
    _, config = parse_sft(["--data", "runs/x", "--out", str(tmp_path / "o"), "--bf16", "false"])
    assert config.bf16 is False and "set by flag (default here: bf16)" in common.precision_line(config)


def test_a_gpu_keeps_bf16_where_supported(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *args: "Fake GPU")
    for supported in (True, False):
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, s=supported: s)
        flags, why = common.precision_default()
        assert flags["bf16"] is supported and why.startswith("GPU Fake GPU")
