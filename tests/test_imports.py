"""The qa package's import graph: no circles, and the layers stay in order.

Every import of a qa module counts, at the top of a file or inside a function: a
circle through a lazy import is still two modules that cannot be understood apart.
"""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "qa"


def qa_imports(path: Path) -> set[str]:
    """The qa modules ``path`` imports (``qa.x`` for ``from qa import x`` too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("qa.")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "qa":
                found |= {f"qa.{a.name}" for a in node.names if (PACKAGE / f"{a.name}.py").exists()}
            elif node.module.startswith("qa."):
                found.add(node.module)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the qa modules it imports; the package's ``__init__`` is left out (it
    re-exports the public API, so it imports everything and nothing imports it back)."""
    return {
        f"qa.{path.stem}": qa_imports(path) - {f"qa.{path.stem}"}
        for path in sorted(PACKAGE.glob("*.py"))
        if path.stem not in {"__init__", "__main__"}
    }


def find_circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as a path ``[a, b, ..., a]``, or None."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return [*path[path.index(module) :], module]
        if module in done:
            return None
        for imported in sorted(graph.get(module, ())):
            if circle := visit(imported, [*path, module]):
                return circle
        done.add(module)
        return None

    for module in sorted(graph):
        if circle := visit(module, []):
            return circle
    return None


def test_qa_has_no_import_circle() -> None:
    graph = import_graph()
    assert "qa.files" in graph and "qa.index.encoders" in graph
    circle = find_circle(graph)
    assert circle is None, "import circle: " + " -> ".join(circle or [])


def test_the_circle_finder_finds_circles() -> None:
    assert find_circle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_circle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_layers() -> None:
    graph = import_graph()
    assert graph["qa.files"] == set(), "qa.files is the bottom layer: it imports no qa module"
    # Hashing and atomic writes come from qa.files, not from each other.
    assert "qa.index.torch_encoder" not in graph["qa.index.cache"]
    assert "qa.index.cache" not in graph["qa.index.torch_encoder"]
    # The encoder is chosen above both embedders, which do not choose.
    assert (
        "qa.index.encoders" not in graph["qa.index.torch_encoder"] | graph["qa.index.onnx_encoder"]
    )
    assert {"qa.index.torch_encoder", "qa.index.onnx_encoder"} <= graph["qa.index.encoders"]
