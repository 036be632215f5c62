"""The qa package's import graph: no circles, and the stages stay in order: the records
and limits at the bottom, then ingest, index, answer, the retriever (the front door),
and on top what serves and measures it.

Every import of a qa module counts, at the top of a file or inside a function: a
circle through a lazy import is still two modules that cannot be understood apart.
"""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "qa"


# Each module's layer; a module imports only modules of its own layer or below.
LAYERS = (
    ("qa.types", "qa.files", "qa.limits", "qa.memory", "qa.stopping"),
    ("qa.ingest",),
    ("qa.index",),
    ("qa.answer",),
    ("qa.retriever",),
    ("qa.serve", "qa.evaluation", "qa.shortcuts"),
    ("qa.cli",),
)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def qa_imports(path: Path) -> set[str]:
    """The qa modules ``path`` imports (``qa.x.y`` for ``from qa.x import y`` when y is a
    module, else ``qa.x``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("qa.")}
        elif (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and node.module
            and (node.module == "qa" or node.module.startswith("qa."))
        ):
            folder = ROOT.joinpath(*node.module.split("."))
            for alias in node.names:
                if (folder / f"{alias.name}.py").exists() or (folder / alias.name).is_dir():
                    found.add(f"{node.module}.{alias.name}")
                elif node.module != "qa":
                    found.add(node.module)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the qa modules it imports. The package ``__init__`` files are left out
    (``qa/__init__.py`` re-exports the public API: it imports everything and nothing
    imports it back; the stage packages' hold only their docstring)."""
    return {
        module_name(path): qa_imports(path) - {module_name(path)}
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.stem not in {"__init__", "__main__"}
    }


def layer(module: str) -> int:
    for number, members in enumerate(LAYERS):
        if any(module == m or module.startswith(m + ".") for m in members):
            return number
    raise AssertionError(f"{module} is in no layer: add it to LAYERS")


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


def test_each_stage_imports_only_the_stages_below_it() -> None:
    graph = import_graph()
    upward = [
        f"{module} (layer {layer(module)}) imports {imported} (layer {layer(imported)})"
        for module, imports in graph.items()
        for imported in imports
        if layer(imported) > layer(module)
    ]
    assert not upward, "\n".join(upward)


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
