"""One exception tree (DESIGN.md): every exception class of the package is in `bot.errors`, under
`NewsbotError`, drawn in its docstring; no handler takes a built-in error for a user's mistake."""

from __future__ import annotations

import ast
import builtins
import inspect
from pathlib import Path

import bot.errors
from bot.errors import NewsbotError, UserInputError

BOT = Path(__file__).resolve().parents[1] / "bot"
ERRORS = BOT / "errors.py"
BUILTIN_ERRORS = {
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
}


def tree() -> list[type[BaseException]]:
    return [
        value
        for value in vars(bot.errors).values()
        if inspect.isclass(value)
        and issubclass(value, BaseException)
        and value.__module__ == "bot.errors"
    ]


def test_every_error_is_a_newsbot_error_drawn_in_the_docstring() -> None:
    drawing = bot.errors.__doc__ or ""
    for error in tree():
        assert issubclass(error, NewsbotError), error
        assert f"─ {error.__name__} " in drawing or error is NewsbotError, error.__name__
        assert inspect.getdoc(error), f"{error.__name__} has no docstring"
    drawn = [line.split("─ ", 1)[1].split()[0] for line in drawing.splitlines() if "─ " in line]
    assert sorted(drawn) == sorted(e.__name__ for e in tree() if e is not NewsbotError)


def test_the_user_input_family_is_what_handlers_answer() -> None:
    family = {e.__name__ for e in tree() if issubclass(e, UserInputError)}
    assert {
        "BadArgument",
        "BadFilter",
        "TooManyFilters",
        "UnknownCategory",
        "StaleButton",
        "LinksDisabled",
        "RateLimited",
        "LinkError",
    } <= family


def test_no_exception_class_outside_bot_errors() -> None:
    names = {e.__name__ for e in tree()}
    for path in sorted(BOT.rglob("*.py")):
        if path == ERRORS:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ClassDef):
                continue
            bases = {ast.unparse(base).rsplit(".", 1)[-1] for base in node.bases}
            wrong = bases & (names | BUILTIN_ERRORS)
            assert not wrong, f"{path.relative_to(BOT)}: class {node.name}({', '.join(wrong)})"


def test_errors_import_nothing_of_ours_at_run_time() -> None:
    module = ast.parse(ERRORS.read_text(encoding="utf-8"))
    for node in module.body:  # an `if TYPE_CHECKING:` import is no run-time dependency
        if isinstance(node, ast.ImportFrom):
            assert not (node.module or "").startswith("bot"), ast.unparse(node)
        if isinstance(node, ast.Import):
            assert not any(a.name.startswith("bot") for a in node.names), ast.unparse(node)


def test_no_chat_handler_or_service_catches_value_error() -> None:
    """A user's mistake is a UserInputError; a ValueError is a bug for the error handler."""
    for package in ("chat", "services"):
        for path in sorted((BOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ExceptHandler) and node.type is not None:
                    caught = ast.unparse(node.type)
                    assert "ValueError" not in caught, f"{path.relative_to(BOT)}:{node.lineno}"
