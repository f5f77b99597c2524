"""Progress of a long command on the terminal: one line on stderr, redrawn at most ten times a
second, with tqdm (its bar, rate and time left, and its care for terminals: width, redraws,
lines printed meanwhile). Nothing at all when stderr is not a terminal (a pipe, a file, cron,
the tests) or with `--quiet`, so logs and captured output never hold progress lines.

    with TerminalProgress("import", quiet=args.quiet, unit="B", rate_of="read") as progress:
        await import_files(store, paths, progress.write, progress=progress)

`TerminalProgress` is a `bot.progress.Progress`: hand it to any work that takes one. Add
`--quiet` to a command with `add_quiet_argument`.
"""

from __future__ import annotations

import argparse
import sys
from types import TracebackType
from typing import TYPE_CHECKING, Never, TextIO

if TYPE_CHECKING:
    from tqdm import tqdm


def add_quiet_argument(parser: argparse.ArgumentParser) -> None:
    """`--quiet`: no progress line (there is none anyway when stderr is not a terminal)."""
    parser.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="no progress line on the terminal (none is drawn when stderr is not a terminal)",
    )


class TerminalProgress:
    """A `bot.progress.Progress` that draws `label: 42%|████  | done/total [elapsed<left]
    count 1,200 · count 3 · 850 unit/s` on a terminal.

    `unit` is the unit of `done` ("B" is shown as KB, MB...); the rate is of the count named
    `rate_of` (records read, say, while `done` counts bytes), in `rate_unit`, else of `done`.
    The line is created at the first call, once it is known whether there is a total.
    """

    def __init__(
        self,
        label: str,
        *,
        quiet: bool = False,
        unit: str = "",
        rate_of: str | None = None,
        rate_unit: str | None = None,
        stream: TextIO | None = None,
    ) -> None:
        self.label = label
        self.unit = unit
        self.rate_of = rate_of
        self.rate_unit = rate_unit or rate_of or unit
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = not quiet and _is_terminal(self.stream)
        self._bar: tqdm[Never] | None = None

    def __enter__(self) -> TerminalProgress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __call__(self, done: int, total: int | None = None, **counts: int) -> None:
        if not self.enabled:
            return
        bar = self._bar
        if bar is None:
            bar = self._bar = self._open(total)
        elif total is not None and bar.total != total:
            bar.total = total
        elapsed = float(bar.format_dict["elapsed"])
        shown = [f"{name} {value:,}" for name, value in counts.items()]
        measured = counts.get(self.rate_of, done) if self.rate_of else done
        if elapsed > 0 and (self.rate_of or self.unit != "B"):  # bytes/s: nobody asks
            shown.append(f"{measured / elapsed:,.0f} {self.rate_unit}/s")
        bar.set_postfix_str(" · ".join(shown), refresh=False)
        bar.update(done - bar.n)

    def write(self, line: str) -> None:
        """Print a line (a problem report) above the progress line, or plainly on stderr when
        there is none."""
        if self._bar is not None:
            self._bar.write(line, file=self.stream)
        else:
            print(line, file=self.stream)

    def close(self) -> None:
        """Leave the last state of the line on the terminal and move below it."""
        bar, self._bar = self._bar, None
        if bar is not None:
            bar.refresh()
            bar.close()

    def _open(self, total: int | None) -> tqdm[Never]:
        # tqdm (80 ms to import): only when a line is drawn (see bot/cli/_common.py)
        from tqdm import tqdm

        scaled = self.unit == "B"
        counted = "{n_fmt}/{total_fmt}" + (self.unit if scaled else "")
        if total is None:
            form = "{desc}: {n_fmt}" + (self.unit if scaled else "") + " [{elapsed}]{postfix}"
        else:
            form = "{desc}: {percentage:3.0f}%|{bar:12}| " + counted + " [{elapsed}<{remaining}]"
            form += "{postfix}"
        return tqdm(
            total=total,
            desc=self.label,
            file=self.stream,
            bar_format=form,
            unit_scale=scaled,
            unit_divisor=1024 if scaled else 1000,
            dynamic_ncols=True,
            mininterval=0.1,
            leave=True,
        )


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, OSError):  # a closed or odd stream: no terminal to draw on
        return False
