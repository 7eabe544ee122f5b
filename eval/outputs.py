"""The pair of files an evaluation command leaves in --out: STEM.json for programs, STEM.md for people."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_json_and_markdown(out: str | Path, stem: str, data: Any, markdown: str) -> None:
    """OUT/STEM.json and OUT/STEM.md (OUT made if missing), then one line saying where they are."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    (out / f"{stem}.md").write_text(markdown, encoding="utf-8")
    print(f"wrote {out / f'{stem}.json'} and {out / f'{stem}.md'}")
