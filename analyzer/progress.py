"""The progress bar of long runs."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress


class LazyProgress:
    """A rich progress bar on stderr, shown only on a terminal and only once a run has taken
    `delay` seconds; redrawn at most ten times a second."""

    def __init__(self, delay: float = 1.0, console: Console | None = None) -> None:
        self.delay = delay
        self.console = console
        self.started = time.monotonic()
        self.total = 0
        self.done = 0
        self._bar: Progress | None = None
        self._drawn = 0.0
        self._hidden = False  # not a terminal: nothing is ever drawn

    def start(self, total: int) -> None:
        self.total = total

    def advance(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if self._bar is None:
            if self._hidden or now - self.started < self.delay or self.done >= self.total:
                return
            from rich.console import Console
            from rich.progress import Progress

            console = self.console or Console(stderr=True)
            if not console.is_terminal:
                self._hidden = True
                return
            self._bar = Progress(console=console, transient=True, auto_refresh=False)
            self._bar.start()
            self._task = self._bar.add_task("parsing", total=self.total)
        if now - self._drawn >= 0.1 or self.done >= self.total:
            self._drawn = now
            self._bar.update(self._task, completed=self.done, refresh=True)
        if self.done >= self.total:
            self.stop()

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
