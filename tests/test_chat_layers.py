"""What only the chat package may do: import Telegram. (The import direction of every package
is checked in tests/test_layers.py.)"""

from __future__ import annotations

import ast
from pathlib import Path

BOT = Path(__file__).resolve().parents[1] / "bot"


def imports(path: Path) -> set[str]:
    """Every module a file imports at run time, also inside functions; imports for type
    checking only (under `if TYPE_CHECKING:`) are no run-time dependency and are skipped."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return found


def modules(package: str) -> list[Path]:
    return sorted((BOT / package).rglob("*.py")) if package else sorted(BOT.glob("*.py"))


def test_only_the_chat_package_imports_telegram() -> None:
    outside = [p for p in BOT.rglob("*.py") if "chat" not in p.relative_to(BOT).parts]
    offenders = {
        str(p.relative_to(BOT)): sorted(m for m in imports(p) if m.split(".")[0] == "telegram")
        for p in outside
    }
    assert not {k: v for k, v in offenders.items() if v}
    assert any("telegram" in m for p in modules("chat") for m in imports(p))


def test_handlers_never_touch_the_store_directly() -> None:
    for path in modules("chat"):
        wrong = [m for m in imports(path) if m.startswith(("bot.store", "sqlalchemy"))]
        assert not wrong, f"{path.relative_to(BOT)} imports {wrong}"
