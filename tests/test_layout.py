"""The package's shape: no import cycle among its modules, each says in one line what it is for."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "summarize"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported(name: str, path: Path) -> set[str]:
    """The package's modules that ``name`` imports anywhere in its source: at the top, inside
    functions, under TYPE_CHECKING. ``from a import b`` counts as importing ``a.b`` when that
    is a module and ``a`` otherwise; the parent packages Python imports first do not count."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return {module for module in found if module in MODULES and module != name}


def test_the_import_graph_sees_imports_in_all_their_forms() -> None:
    ct2 = imported("summarize.backends.ct2", MODULES["summarize.backends.ct2"])
    assert {"summarize.backends", "summarize.backends.huggingface"} <= ct2  # names, modules
    cli = imported("summarize.cli", MODULES["summarize.cli"])
    assert "summarize.backends.ct2_cache" in cli  # under TYPE_CHECKING
    assert "summarize.server" in cli  # inside a function only


def test_no_module_of_the_package_imports_itself_through_others() -> None:
    graph = {name: imported(name, path) for name, path in MODULES.items()}
    done: set[str] = set()

    def visit(module: str, trail: list[str]) -> None:
        if module in trail:
            cycle = [*trail[trail.index(module) :], module]
            pytest.fail("import cycle: " + " -> ".join(cycle))
        if module in done:
            return
        for target in sorted(graph[module]):
            visit(target, [*trail, module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])


def test_backends_know_nothing_of_the_settings() -> None:
    for name, path in MODULES.items():
        if name.startswith("summarize.backends"):
            assert "summarize.config" not in imported(name, path), name


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_module_opens_with_one_line_saying_what_it_is_for(name: str) -> None:
    docstring = ast.get_docstring(ast.parse(MODULES[name].read_text(encoding="utf-8")))
    assert docstring, f"{name} has no docstring"
    lines = docstring.splitlines()
    assert lines[0].strip(), f"{name}: the docstring's first line is empty"
    assert len(lines) == 1 or not lines[1].strip(), f"{name}: the first line runs on"
