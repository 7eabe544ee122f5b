"""The pair of files an evaluation command leaves in --out: STEM.json for programs, STEM.md for people."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def check_out(out: str | Path | None, flag: str = "--out") -> None:
    """`flag` names a folder, or nothing yet: checked before a command writes anything (eval.verify writes into the
    runs first), so a bad one writes nothing."""
    if out is not None and Path(out).exists() and not Path(out).is_dir():
        raise ValueError(f"{flag} {out}: a file, expected a folder (or a new name)")


def write_json_and_markdown(out: str | Path, stem: str, data: Any, markdown: str) -> None:
    """OUT/STEM.json and OUT/STEM.md (OUT made if missing), then one line saying where they are."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    (out / f"{stem}.md").write_text(markdown, encoding="utf-8")
    print(f"wrote {out / f'{stem}.json'} and {out / f'{stem}.md'}")
