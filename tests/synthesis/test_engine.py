"""The run engine stands alone: it imports no attempt, its modules form no cycle, and one reader reads every row."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from protocols.types import Attempt, Problem, Record
from synthesis.engine import ATTEMPTS, TASKS, RowError, Task, get_task, read_rows
from tests.conftest import REPO

ENGINE = REPO / "synthesis" / "engine"


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def test_importing_the_engine_imports_no_attempt_and_not_ray():
    code = ("import sys, synthesis.engine as engine; [getattr(engine, name) for name in engine.__all__]; "
            "print([name for name in sys.modules if name.split('.')[0] in ('synthesis', 'training', 'eval') "
            "and not name.startswith('synthesis.engine') and name != 'synthesis' or name == 'ray'])")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"


def test_engine_modules_form_no_import_cycle():
    modules = {path.stem: path for path in ENGINE.glob("*.py") if path.stem != "__init__"}
    graph = {name: {other for other in modules if f"synthesis.engine.{other}" in _imports(path)}
             for name, path in modules.items()}
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, f"import cycle: {' -> '.join((*path, name))}"
        if name not in done:
            for other in graph[name]:
                visit(other, (*path, name))
            done.add(name)

    for name in graph:
        visit(name, ())
    assert all(len(path.read_text().splitlines()) < 400 for path in modules.values())


@pytest.mark.parametrize("package", ["training", "eval"])
def test_training_and_eval_use_the_engine_never_an_attempt(package):
    for path in (REPO / package).rglob("*.py"):
        wrong = sorted(name for name in _imports(path) if name.startswith("synthesis.")
                       and not name.startswith("synthesis.engine"))
        assert not wrong, f"{path.relative_to(REPO)} imports {wrong}"


def test_every_registered_task_is_a_task_of_that_name():
    assert set(ATTEMPTS) <= set(TASKS) and set(ATTEMPTS) == set(typing.get_args(Attempt))  # records name them
    for name in TASKS:
        task = get_task(name)
        assert isinstance(task, Task) and task.name == name


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


def test_the_usage_table_has_a_row_per_role_and_model_and_counts_a_shared_client_once():
    from rich.console import Console

    from agents.calls.client import LLMClient
    from protocols.types import Usage
    from synthesis.engine.cli import usage_table
    from synthesis.engine.store import role_model_usage

    judge, policy = LLMClient(model="oracle/reference"), LLMClient(model="hosted_vllm/qwen")
    judge.usage["scorer"] = Usage(calls=4, prompt_tokens=4000, completion_tokens=120, cost=0.01)
    judge.usage["rewrite"] = Usage(calls=1, prompt_tokens=900, completion_tokens=300, cost=None)
    policy.usage["policy"] = Usage(calls=12, prompt_tokens=1200, completion_tokens=1000, cache_hits=2,
                                   cached_completion_tokens=200, retries=1)
    rows = role_model_usage({"scorer": judge, "rewrite": judge, "policy": policy, "idle": LLMClient(model="m")})
    assert [(row.role, row.model, row.usage.calls) for row in rows] == [
        ("rewrite", "oracle/reference", 1), ("scorer", "oracle/reference", 4), ("policy", "hosted_vllm/qwen", 12)]
    console = Console(width=100, record=True)
    console.print(usage_table(rows, elapsed_s=10.0))
    lines = console.export_text().splitlines()
    policy_line = next(line for line in lines if line.startswith("policy"))
    # 800 completion tokens generated (200 replayed from the cache) over 10 s; thousands separated.
    assert "12 (2 cached) (1 retried)" in policy_line and "1,200" in policy_line and " 80.0 " in policy_line
    assert next(line for line in lines if line.startswith("rewrite")).rstrip().endswith("unknown")
    assert next(line for line in lines if line.startswith("scorer")).rstrip().endswith("$0.0100")
