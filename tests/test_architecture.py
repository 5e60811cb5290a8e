"""The structure docs/architecture.md describes, checked: one-way imports, small modules, light registry."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import aesthetic_curator

PACKAGE = Path(aesthetic_curator.__file__).parent
MAX_LINES = 450


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_the_gui_imports_nothing_from_the_engine():
    offenders = {
        path.name: sorted(n for n in _imports(path) if n.startswith("aesthetic_curator.engine"))
        for path in (PACKAGE / "gui").glob("*.py")
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_the_core_never_imports_qt():
    for folder in ("engine", "library", "factory", "evaluation"):
        for path in (PACKAGE / folder).rglob("*.py"):
            assert not any(n.startswith("PySide6") for n in _imports(path)), path
    for path in PACKAGE.glob("*.py"):
        assert not any(n.startswith("PySide6") for n in _imports(path)), path


def test_no_module_is_longer_than_450_lines():
    long = {
        str(path.relative_to(PACKAGE)): n
        for path in PACKAGE.rglob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def test_the_solver_registry_and_the_cli_parser_import_no_torch():
    code = (
        "import sys\n"
        "from aesthetic_curator.cli.parser import build_parser, SOLVER_CHOICES\n"
        "build_parser()\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "print(','.join(SOLVER_CHOICES))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "fast,paper"


def test_the_benchmarks_and_docs_scripts_import_names_that_exist():
    """The benchmarks take minutes, so only one runs in the tests (test_benchmark_runs): a renamed module or
    function would break the others unseen (it did once: shooting_details became photo_exif). Every name they
    import from the package exists."""
    import importlib

    root = PACKAGE.parent
    missing = []
    for path in [*sorted((root / "benchmarks").glob("*.py")), *sorted((root / "docs").glob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            sibling = path.parent / f"{node.module}.py" if isinstance(node, ast.ImportFrom) and node.module else None
            if sibling is not None and sibling.is_file():  # a benchmark borrowing another's helper
                defined = _top_level_names(sibling)
                missing += [f"{path.name}: {node.module}.{a.name}" for a in node.names if a.name not in defined]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("aesthetic_curator"):
                module = importlib.import_module(node.module)
                missing += [
                    f"{path.name}: {node.module}.{alias.name}"
                    for alias in node.names
                    if not hasattr(module, alias.name) and not _is_module(f"{node.module}.{alias.name}")
                ]
    assert missing == []


def _top_level_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def _is_module(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False
