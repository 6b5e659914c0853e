"""What snnc's reports share: figure set-up and saving, JSON, and one set of method names.

Every report (the error report of :mod:`snnc.calibration.report`, the resource report of
:mod:`snnc.compiler.mapping.report`, the energy report and the T sweep of :mod:`snnc.profiler`)
is a :class:`Report`::

    rep.text()            the human-readable report
    rep.to_dict()         plain data (what the JSON holds)
    rep.to_json(path)     JSON text, written to ``path`` too when given
    rep.plot(path)        a figure (PNG, or any suffix of FIGURE_FORMATS)

Figures are drawn with matplotlib's Agg renderer on a ``Figure`` of their own (no pyplot, no
change of the user's matplotlib backend), in one style (:data:`STYLE`: matplotlib's defaults,
whatever the user's matplotlibrc says).  Output paths are checked before any work
(:func:`figure_path`, :func:`output_path`), so ``snnc report --plot r.xyz`` fails before it
computes the report; missing parent directories are created when the file is written.

matplotlib is imported only when a figure is drawn.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from snnc.errors import InputError

#: figure formats a report can be saved as (matplotlib's Agg canvas), by path suffix
FIGURE_FORMATS = ("png", "pdf", "svg", "svgz", "eps", "ps", "jpg", "jpeg", "tif", "tiff", "webp",
                  "gif", "raw", "rgba")
#: the one style of snnc's figures: matplotlib's defaults, then these
STYLE: tuple[str | dict[str, Any], ...] = ("default", {"figure.dpi": 100, "savefig.dpi": 100})
DPI = 100
JSON_INDENT = 2


def output_path(path: str | os.PathLike) -> Path:
    """``path`` as a file snnc may write: not a directory, under a (possibly missing)
    directory that is writable.  An :class:`~snnc.errors.InputError` otherwise; nothing is
    created."""
    p = Path(path)
    if str(path) == "" or p.is_dir():
        raise InputError(f"cannot write {str(path)!r}: it is a directory", hint="name a file")
    parent = p.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(f"cannot write {str(path)!r}: {str(parent)!r} is not a directory",
                         hint="choose another path")
    if not os.access(parent, os.W_OK):
        raise InputError(f"cannot write {str(path)!r}: {str(parent)!r} is not writable",
                         hint="choose another path")
    return p


def figure_path(path: str | os.PathLike) -> Path:
    """``path`` as a figure file (:func:`output_path`, and a suffix of :data:`FIGURE_FORMATS`;
    none means ``.png``, appended as matplotlib does)."""
    p = output_path(path)
    suffix = p.suffix[1:].lower()
    if not suffix:
        return p.with_name(p.name + ".png")
    if suffix not in FIGURE_FORMATS:
        raise InputError(f"cannot write a figure as .{suffix} ({str(path)!r})",
                         hint=f"use one of: {', '.join('.' + f for f in FIGURE_FORMATS)}")
    return p


@contextlib.contextmanager
def figure(path: str | os.PathLike, nrows: int = 1, ncols: int = 1, *, figsize=None,
           **subplots: Any) -> Iterator[tuple[Any, Any]]:
    """``with figure(path, nrows, ncols, figsize=...) as (fig, axes):`` draw, and on leaving
    the block the figure is laid out and saved to ``path`` (checked first, :func:`figure_path`).

    ``axes`` is what ``Figure.subplots`` returns (one Axes for 1 x 1).  Nothing is written
    when the block raises.
    """
    out = figure_path(path)
    import matplotlib.style
    from matplotlib.figure import Figure

    with matplotlib.style.context(list(STYLE)):
        fig = Figure(figsize=figsize)
        axes = fig.subplots(nrows, ncols, **subplots)
        yield fig, axes
        fig.tight_layout()
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=DPI)


def write_json(data: Any, path: str | os.PathLike | None = None, indent: int = JSON_INDENT) -> str:
    """``data`` as JSON text, also written to ``path`` when given (parents created)."""
    s = json.dumps(data, indent=indent)
    if path is not None:
        p = output_path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(s)
    return s


class Report:
    """Base of the reports: ``to_json`` from the report's own ``to_dict`` (see the module)."""

    #: indentation of :meth:`to_json`
    json_indent: ClassVar[int] = JSON_INDENT

    def to_dict(self) -> dict[str, Any]:
        """The report as plain data (JSON types)."""
        raise NotImplementedError

    def text(self) -> str:
        """The report for people."""
        raise NotImplementedError

    def to_json(self, path: str | os.PathLike | None = None) -> str:
        """The report as JSON (:meth:`to_dict`), written to ``path`` too when given."""
        return write_json(self.to_dict(), path, self.json_indent)
