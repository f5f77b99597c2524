"""The test suite's own rules: a test module never imports another test module (shared helpers
live in `tests/helpers.py`, fixtures in `conftest.py`), so running, moving or deleting one test
file never changes what another one does."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, at any depth (relative imports resolved inside tests/)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # `from .test_x import y` or `from . import test_x`
                base = ".".join(filter(None, ["tests", base]))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def test_no_test_module_imports_another_test_module() -> None:
    offenders = {
        path.name: sorted(
            name
            for name in imported_modules(path)
            if name.startswith("tests.test_") or name.startswith("test_")
        )
        for path in sorted(TESTS.glob("test_*.py"))
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_the_rule_sees_every_form_of_import(tmp_path: Path) -> None:
    module = tmp_path / "test_example.py"
    module.write_text(
        "import tests.test_a\n"
        "from tests.test_b import helper\n"
        "from tests import test_c\n"
        "from .test_d import other\n"
        "def f():\n    from tests.helpers import FakeClock\n",
        encoding="utf-8",
    )
    found = {
        ".".join(n.split(".")[:2]) for n in imported_modules(module) if n.startswith("tests.test_")
    }
    assert found == {"tests.test_a", "tests.test_b", "tests.test_c", "tests.test_d"}
