"""Progress bars for long runs: a thin wrapper around tqdm, shown only where someone watches.

``progress`` arguments across snnc take ``True`` (show a bar), ``False`` (never) or ``None``
(auto: show it when stderr is a terminal, and only once the run has lasted
:data:`AUTO_DELAY` seconds, so short runs print nothing).  Without tqdm installed, or with
stderr redirected in auto mode, :func:`bar` yields a no-op bar with the same ``update``::

    with progress.bar(total=len(x), desc="emulator", unit="sample", progress=None) as b:
        for chunk in chunks:
            ...
            b.update(len(chunk))
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator

log = logging.getLogger(__name__)

#: seconds before an automatic bar appears (tqdm's ``delay``)
AUTO_DELAY = 1.0


class NullBar:
    """A bar that shows nothing (same ``update``/``set_postfix_str`` as tqdm's)."""

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        pass


def enabled(progress: bool | None) -> bool:
    """Resolve ``progress``: ``None`` means "stderr is a terminal"."""
    if progress is None:
        try:
            return sys.stderr.isatty()
        except (AttributeError, ValueError):  # replaced or closed stderr
            return False
    return bool(progress)


@contextlib.contextmanager
def bar(total: int, desc: str, unit: str = "it", progress: bool | None = None) -> Iterator:
    """A tqdm bar on stderr for ``total`` units, or a :class:`NullBar` when it is off."""
    if not enabled(progress):
        yield NullBar()
        return
    try:
        from tqdm import tqdm
    except ImportError:
        log.warning("progress bars need tqdm (pip install tqdm); running without one")
        yield NullBar()
        return
    delay = AUTO_DELAY if progress is None else 0.0
    with tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, delay=delay,
              dynamic_ncols=True) as b:
        yield b
