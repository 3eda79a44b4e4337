"""What every ``flowsim`` command shares: its consoles and how it ends on bad input.

:func:`command` wraps a command's work: a :class:`~flowsim.errors.ScenarioError` ends it
with one line (``error: file:line: field: message``) and exit code 2, as does an output
that cannot be written (an ``OSError``); scenario warnings are printed as they come;
progress bars are shown when stderr is a terminal. Messages are printed as text, never
read as rich markup (a key or a path may hold ``[...]``).
"""
from __future__ import annotations

import sys
import warnings
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional

import typer
from rich.console import Console
from rich.markup import escape

from flowsim.errors import ScenarioError, ScenarioWarning

err = Console(stderr=True)
out = Console()

def fail(message: str) -> None:
    """Print ``error: message`` (as text) and exit with code 2."""
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def warn(message: str) -> None:
    """Print ``warning: message`` (as text)."""
    err.print(f"[bold yellow]warning:[/] {escape(message)}", highlight=False, soft_wrap=True)


@contextmanager
def command(quiet: bool = False) -> Iterator[Callable[[str], Optional[Callable[[float, Any], None]]]]:
    """Run a command's work: errors → one line and exit 2; warnings printed as they come;
    yields ``bar(label)``, a progress callback (``None`` when quiet or not on a terminal)."""
    from rich.progress import Progress as Bars
    bars = Bars(console=err, transient=True) if not quiet and sys.stderr.isatty() else None

    def bar(label: str) -> Optional[Callable[[float, Any], None]]:
        if bars is None:
            return None
        task = bars.add_task(label, total=None)
        return lambda done, total: bars.update(task, completed=done, total=total)

    with warnings.catch_warnings():
        warnings.simplefilter("always", ScenarioWarning)
        shown = warnings.showwarning

        def show(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
            if issubclass(category, ScenarioWarning):
                warn(str(message))
            else:
                shown(message, category, *args, **kwargs)
        warnings.showwarning = show
        try:
            if bars is not None:
                bars.start()
            yield bar
        except ScenarioError as exc:
            if bars is not None:
                bars.stop()
            fail(exc.format())
        except OSError as exc:          # an output that cannot be written (checked paths make this rare)
            if bars is not None:
                bars.stop()
            where = f": {exc.filename}" if exc.filename else ""
            fail(f"cannot write{where}: {exc.strerror or exc}")
        finally:
            if bars is not None:
                bars.stop()
