"""The run engine stands alone: it imports no attempt (nor Ray), its modules form no cycle and stay under 400 lines,
and training and eval use it, never an attempt."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

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
