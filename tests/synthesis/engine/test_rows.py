"""One reader for every row: a torn last line is skipped, a bad line is named (or skipped and counted), and a reader
goes on from where it stopped."""

from __future__ import annotations

import json

import pytest

from protocols.types import Problem, Record
from synthesis.engine import RowError, read_rows


def _record(problem_id: str) -> str:
    return Record(problem_id=problem_id, attempt="debate", problem=Problem(id=problem_id, question="?"),
                  stop_reason="terminated").to_json()


def test_read_rows_skips_a_torn_last_line_and_keeps_an_unterminated_whole_one(tmp_path):
    (tmp_path / "records.jsonl").write_text(_record("a") + "\n\n" + _record("b")[:30])
    rows = read_rows(tmp_path, Record)
    assert [row.problem_id for row in rows] == ["a"] and rows.torn and not rows.bad
    (tmp_path / "records.jsonl").write_text(_record("a") + "\n" + _record("b"))  # saved without a final newline
    rows = read_rows(tmp_path / "records.jsonl", Record)
    assert [row.problem_id for row in rows] == ["a", "b"] and not rows.torn
    assert [row.problem_id for row in read_rows(tmp_path, Record, complete_only=True)] == ["a"]


def test_read_rows_names_a_bad_line_or_skips_and_counts_it(tmp_path):
    (tmp_path / "records.jsonl").write_text("\n".join([_record("a"), "not json", json.dumps([1]), _record("b")]) + "\n")
    with pytest.raises(RowError, match=r"records\.jsonl:2: not a Record"):
        read_rows(tmp_path, Record)
    rows = read_rows(tmp_path, dict, strict=False)
    assert [row["problem_id"] for row in rows] == ["a", "b"]
    assert [(bad.number, bad.reason) for bad in rows.bad][1] == (3, "expected a JSON object, got list")
    assert read_rows(tmp_path / "absent", dict, missing_ok=True).rows == []
    with pytest.raises(FileNotFoundError, match="no records"):
        read_rows(tmp_path / "absent", dict)


def test_read_rows_reads_on_from_where_it_stopped(tmp_path):
    path = tmp_path / "records.jsonl"
    path.write_text(_record("a") + "\n" + _record("b")[:10])
    first = read_rows(path, Record)
    with path.open("a") as handle:
        handle.write(_record("b")[10:] + "\n" + "oops\n")
    later = read_rows(path, Record, strict=False, start=first.end, first_line=first.lines + 1)
    assert [row.problem_id for row in later] == ["b"] and [bad.number for bad in later.bad] == [3]
    assert later.last_line == b"oops\n" and later.end == path.stat().st_size
