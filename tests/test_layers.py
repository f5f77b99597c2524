"""The import direction of DESIGN.md, checked on the source of every module under bot/:

    cli -> app -> chat -> services -> {ingest, deliver} -> {store, summarize} -> bottom

A module may import its own package and anything strictly lower. Siblings (ingest and deliver;
store and summarize) do not import each other. The bottom modules (models, errors, config,
clock, text, urls, logs, samples, and `bot` itself for `__version__`) import nothing of ours but
the few edges listed in BOTTOM_EDGES. Every import counts: at module level, inside a function,
and under `if TYPE_CHECKING:` (a type-only import that points upward is still a cycle waiting
for the next refactoring).
"""

from __future__ import annotations

import ast
from pathlib import Path

BOT = Path(__file__).resolve().parents[1] / "bot"

# Higher number = higher layer. `__main__` is the shim `python -m bot` runs; it calls bot.cli.
LAYERS: dict[str, int] = {
    "__main__": 7,
    "cli": 6,
    "app": 5,
    "chat": 4,
    "services": 3,
    "ingest": 2,
    "deliver": 2,
    "store": 1,
    "summarize": 1,
    **dict.fromkeys(
        [
            "bot",
            "models",
            "errors",
            "config",
            "clock",
            "text",
            "urls",
            "logs",
            "samples",
            "metrics",
            "progress",
        ],
        0,
    ),
}

# The only imports between two bottom modules: config raises ConfigError; errors names
# Category in a type hint (under TYPE_CHECKING). Nothing at the bottom imports config or logs.
BOTTOM_EDGES = {("config", "errors"), ("errors", "models")}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(BOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import of `bot...` in the file, wherever it stands."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                targets = [".".join([*base, node.module] if node.module else base)]
            else:
                targets = [node.module or ""]
        else:
            continue
        found += [(node.lineno, t) for t in targets if t == "bot" or t.startswith("bot.")]
    return found


def group(module: str) -> str:
    """The layer group of a module: its first component under bot ("bot" for the root)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "bot"


def violation(importer: str, target: str) -> str | None:
    """Why `importer` may not import `target`, or None when it may."""
    mine, theirs = group(importer), group(target)
    if mine not in LAYERS or theirs not in LAYERS:
        unknown = mine if mine not in LAYERS else theirs
        return f"bot.{unknown} has no layer: add it to LAYERS in tests/test_layers.py"
    if mine == theirs:
        return None
    if LAYERS[mine] == 0 and LAYERS[theirs] == 0:
        if theirs == "bot" or (mine, theirs) in BOTTOM_EDGES:
            return None
        return f"bottom modules import each other only along {sorted(BOTTOM_EDGES)}"
    if LAYERS[theirs] < LAYERS[mine]:
        return None
    if LAYERS[theirs] == LAYERS[mine]:
        return f"bot.{mine} and bot.{theirs} are siblings and do not import each other"
    return f"bot.{theirs} is above bot.{mine}"


def test_every_module_imports_only_downward() -> None:
    problems = []
    for path in sorted(BOT.rglob("*.py")):
        importer = module_name(path)
        for line, target in imported(path):
            why = violation(importer, target)
            if why:
                where = f"{path.relative_to(BOT.parent)}:{line}"
                problems.append(f"{where}: {importer} imports {target}: {why}")
    assert not problems, "imports against the layer order:\n" + "\n".join(problems)


def test_nothing_imports_the_command_line() -> None:
    """bot.cli is the top: only the `python -m bot` shim may import it."""
    users = [
        f"{path.relative_to(BOT.parent)}:{line}"
        for path in BOT.rglob("*.py")
        if group(module_name(path)) not in ("cli", "__main__")
        for line, target in imported(path)
        if group(target) == "cli"
    ]
    assert not users


def test_the_rule_itself() -> None:
    """The checker says no where the design says no (so a green run means something)."""
    assert violation("bot.ingest.pipeline", "bot.services.summaries")
    assert violation("bot.ingest.importer", "bot.deliver.policy")
    assert violation("bot.store.sql", "bot.summarize")
    assert violation("bot.models", "bot.text")
    assert violation("bot.chat.render", "bot.cli")
    assert violation("bot.chat.render", "bot.app")
    assert violation("bot.newthing", "bot.models")
    assert not violation("bot.cli.run", "bot.app")
    assert not violation("bot.chat.outbox", "bot.deliver.sender")
    assert not violation("bot.services.feeds", "bot.ingest.pipeline")
    assert not violation("bot.config", "bot.errors")
    assert not violation("bot.summarize._clean", "bot.summarize")
