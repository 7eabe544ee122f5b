"""The project's own modules import one another without a cycle, counting imports deferred into functions.

A cycle that works only because one side imports inside a function is still a cycle: it breaks as soon as someone
moves the import to the top, and it means two modules cannot be understood apart. Imports under
`if __name__ == "__main__":` are not counted: they run only when the module is the program, as `__main__`, a
different module object.
"""

import ast
from pathlib import Path

from tests.conftest import REPO

PACKAGES = ("agents", "protocols", "synthesis", "training", "eval", "prompts")


def _modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _is_main_guard(node: ast.AST) -> bool:
    return (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
            and isinstance(node.test.left, ast.Name) and node.test.left.id == "__name__")


def _owner(name: str, modules: dict[str, Path]) -> str | None:
    """The project module a dotted name lives in: itself, or the nearest enclosing module (a.b.attr -> a.b)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _imported(tree: ast.Module, module: str, is_package: bool, modules: dict[str, Path]) -> set[str]:
    """The project modules this one imports, anywhere in it but a main guard. `from a import b` imports the
    submodule a.b when there is one, else a (b is an attribute of a)."""
    found: set[str] = set()
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if _is_main_guard(node):
            continue
        if isinstance(node, ast.Import):
            found |= {_owner(alias.name, modules) for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".") if is_package else module.split(".")[:-1]
                parts = parts[:len(parts) - (node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            found |= {_owner(f"{base}.{alias.name}", modules) for alias in node.names}
        pending.extend(ast.iter_child_nodes(node))
    # A submodule always imports its own package first: that edge is how packages work, not a cycle.
    return {name for name in found if name and name != module and not module.startswith(name + ".")}


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imported(ast.parse(path.read_text()), name, path.name == "__init__.py", modules)
            for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_project_has_no_import_cycle():
    assert cycles(import_graph()) == []


def test_the_check_sees_a_cycle_through_a_deferred_import():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    modules = dict.fromkeys(["agents", "agents.calls.client", "agents.calls.model_role", "agents.x"], Path())
    tree = ast.parse("def f():\n    from agents.calls.client import LLMClient\n"
                     "if __name__ == '__main__':\n    import agents.x\n")
    # A deferred import counts, one under the main guard does not.
    assert _imported(tree, "agents.calls.model_role", False, modules) == {"agents.calls.client"}
