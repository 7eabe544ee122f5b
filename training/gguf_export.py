"""`training.export --format gguf`: a trained checkpoint as one GGUF file (the conversion: agents.backends.hf_to_gguf).

    python -m training.export --format gguf runs/sft-journey/final --out runs/sft-journey/model-f16.gguf
    python -m training.export --format gguf --gguf-type q8_0 runs/sft-journey/final --out runs/gguf/

f16 answers with the same greedy text as `hf/` (tested); q8_0 is half the size and faster, and its greedy text can
differ (on the embedded model's "What is 12 + 7?" f16 said 19 and q8_0 said 9). Serve the file as `gguf/FILE`.
"""

from __future__ import annotations

from agents.backends.hf_to_gguf import GGUFExportError, export_gguf


def export_command(inputs: list[str], out: str | None, gguf_type: str) -> str:
    """`training.export --format gguf`: one model folder to one GGUF file; returns the line to print."""
    if len(inputs) != 1:
        raise GGUFExportError(f"--format gguf: expected one model folder, got {len(inputs)}: {' '.join(inputs)}")
    if not out:
        raise GGUFExportError("--format gguf: --out is required (a .gguf file, or a folder for MODEL-TYPE.gguf)")
    path = export_gguf(inputs[0], out, gguf_type)
    return f"wrote {path} ({path.stat().st_size / 2**20:.0f} MiB, {gguf_type}); serve it as gguf/{path}"
