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

Every output is written atomically (:func:`atomic_file`, :func:`atomic_dir`): into a sibling
temporary ``.NAME.snnc-PID-XXXXXX``, flushed to disk (fsync), then renamed over the target, so
at every instant the target holds its old content or the new one, whole.  A directory replaces
an existing one with Linux's ``renameat2(RENAME_EXCHANGE)`` (one atomic swap); where the file
system lacks it, the old directory is first renamed aside to a named sibling.  A leftover of a
killed writer keeps that name (its writer's PID in it) and is removed by the next write to the
same target once that PID is gone.

matplotlib is imported only when a figure is drawn.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

from snnc.errors import ArgumentError, InputError

#: figure formats a report can be saved as (matplotlib's Agg canvas), by path suffix
FIGURE_FORMATS = ("png", "pdf", "svg", "svgz", "eps", "ps", "jpg", "jpeg", "tif", "tiff", "webp",
                  "gif", "raw", "rgba")
#: the one style of snnc's figures: matplotlib's defaults, then these
STYLE: tuple[str | dict[str, Any], ...] = ("default", {"figure.dpi": 100, "savefig.dpi": 100})
DPI = 100
JSON_INDENT = 2


def _shown(path: Any) -> str:
    s = str(path)
    return repr(s if len(s) <= 120 else s[:60] + "..." + s[-40:])


def _as_path(path: Any, what: str) -> Path:
    if not isinstance(path, (str, os.PathLike)) or isinstance(path, bytes):
        raise ArgumentError(f"{what} must be a path (str or os.PathLike), not {type(path).__name__}",
                            hint="pass a file or directory name")
    p = Path(path)
    if str(path) == "":
        raise InputError(f"{what} is empty", hint="name a file or directory")
    if "\0" in str(p):
        raise InputError(f"{what} {_shown(path)} contains a NUL byte", hint="choose another path")
    if len(os.fsencode(str(p.absolute()))) >= PATH_MAX:
        raise InputError(f"{what} {_shown(path)} is too long ({len(str(p.absolute()))} characters; "
                         f"the system's limit is {PATH_MAX - 1} bytes)", hint="choose a shorter path")
    for part in p.parts:
        if len(os.fsencode(part)) > NAME_MAX:
            raise InputError(f"{what} {_shown(path)} has a name of {len(part)} characters (the file "
                             f"system's limit is {NAME_MAX} bytes)", hint="choose a shorter name")
    return p


def _existing_parent(p: Path, path: Any) -> Path:
    """The nearest existing ancestor of ``p``: it must be a writable directory."""
    parent = p.absolute().parent
    try:
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        is_dir = parent.is_dir()
    except OSError as e:
        raise InputError(f"cannot write {_shown(path)}: {e.strerror}", hint="choose another path") from None
    if not is_dir:
        raise InputError(f"cannot write {_shown(path)}: {str(parent)!r} is not a directory",
                         hint="choose another path")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"cannot write {_shown(path)}: {str(parent)!r} is not writable",
                         hint="choose another path")
    return parent


def output_path(path: str | os.PathLike) -> Path:
    """``path`` as a file snnc may write: not a directory, under a (possibly missing)
    directory that is writable, of a length the system takes.  An
    :class:`~snnc.errors.InputError` otherwise (an :class:`~snnc.errors.ArgumentError` for a
    value that is no path); nothing is created."""
    p = _as_path(path, "output path")
    try:
        is_dir = p.is_dir()
    except OSError as e:
        raise InputError(f"cannot write {_shown(path)}: {e.strerror}", hint="choose another path") from None
    if is_dir:
        raise InputError(f"cannot write {_shown(path)}: it is a directory", hint="name a file")
    _existing_parent(p, path)
    return p


def directory_path(path: str | os.PathLike, replaceable: Callable[[Path], bool] | None = None,
                   what: str = "a directory") -> Path:
    """``path`` as a directory snnc may (re)write: missing, empty, or ``replaceable(path)``;
    not a file; under a writable directory.  An :class:`~snnc.errors.InputError` otherwise;
    nothing is created."""
    p = _as_path(path, "output directory")
    try:
        exists, is_dir = p.exists(), p.is_dir()
        empty = is_dir and not any(p.iterdir())
    except OSError as e:
        raise InputError(f"cannot write {_shown(path)}: {e.strerror}", hint="choose another path") from None
    if exists and not is_dir:
        raise InputError(f"cannot write {what} at {_shown(path)}: a file of that name exists",
                         hint="choose another path, or remove the file")
    if exists and not empty and not (replaceable is not None and replaceable(p)):
        raise InputError(f"cannot write {what} at {_shown(path)}: it is a directory with other "
                         "content, which snnc does not replace", hint="choose a new or empty directory")
    _existing_parent(p, path)
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
    when the block raises; the file is written atomically (:func:`atomic_file`).
    """
    out = figure_path(path)
    import matplotlib.style
    from matplotlib.figure import Figure

    with matplotlib.style.context(list(STYLE)):
        fig = Figure(figsize=figsize)
        axes = fig.subplots(nrows, ncols, **subplots)
        yield fig, axes
        fig.tight_layout()
        with atomic_file(out) as tmp:
            fig.savefig(tmp, dpi=DPI, format=out.suffix[1:].lower() or "png")


def write_json(data: Any, path: str | os.PathLike | None = None, indent: int = JSON_INDENT) -> str:
    """``data`` as JSON text, also written to ``path`` when given (parents created; atomic)."""
    s = json.dumps(data, indent=indent)
    if path is not None:
        write_text(path, s)
    return s


# ------------------------------------------------------------------------------ atomic outputs
#: the longest path (bytes, with its NUL) and file name the system takes
PATH_MAX = os.pathconf("/", "PC_PATH_MAX") if hasattr(os, "pathconf") else 1024  # macOS: 1024
NAME_MAX = os.pathconf("/", "PC_NAME_MAX") if hasattr(os, "pathconf") else 255
#: what a temporary sibling is called: ``.NAME.snnc-PID-XXXXXX`` (NAME cut to 60 characters)
TEMP_MARK = ".snnc-"
_TEMP = re.compile(r"^\.(?P<name>.*)\.snnc-(?P<pid>\d+)-[A-Za-z0-9_]+(?P<suffix>\.[^.]*)?$")
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _prefix(out: Path) -> str:
    return f".{out.name[:60]}{TEMP_MARK}{os.getpid()}-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process
        return True
    return True


def leftovers(out: str | os.PathLike) -> list[Path]:
    """Temporary siblings of ``out`` left by a writer that was killed (its PID is gone)."""
    out = Path(out).absolute()
    try:
        entries = list(out.parent.iterdir())
    except OSError:
        return []
    found = []
    for e in entries:
        m = _TEMP.match(e.name)
        if m and m["name"] == out.name[:60] and not _alive(int(m["pid"])):
            found.append(e)
    return sorted(found)


def _clean_leftovers(out: Path) -> None:
    for e in leftovers(out):
        if e.is_dir() and not e.is_symlink():
            shutil.rmtree(e, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                e.unlink()


def _umask() -> int:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def fsync_path(path: str | os.PathLike) -> None:
    """Flush a file's or a directory's content to disk."""
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if Path(path).is_dir() else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root: str | os.PathLike) -> None:
    """fsync every file and directory under ``root`` (directories after their entries)."""
    for d, _, files in os.walk(root, topdown=False):
        for f in files:
            fsync_path(os.path.join(d, f))
        fsync_path(d)


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _exchange(a: Path, b: Path) -> bool:
    """Swap ``a`` and ``b`` atomically (Linux ``renameat2(RENAME_EXCHANGE)``); False where the
    system or the file system does not offer it."""
    fn = getattr(_LIBC, "renameat2", None) if _LIBC is not None else None
    if fn is None:
        return False
    if fn(_AT_FDCWD, os.fsencode(str(a)), _AT_FDCWD, os.fsencode(str(b)), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))


try:
    _LIBC = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover - no C library to ask
    _LIBC = None


def _os_error(e: OSError, out: Path) -> InputError:
    return InputError(f"cannot write {_shown(out)}: {e.strerror or e}", hint="check the path and its permissions")


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[Path]:
    """``with atomic_file(p) as tmp:`` write the file ``tmp`` (same directory and suffix as
    ``p``); when the block ends without an error it is flushed to disk and renamed over ``p``.
    On an error (or a kill) ``p`` keeps its old content and ``tmp`` is removed (see the module).
    """
    out = output_path(path).absolute()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        _clean_leftovers(out)
        fd, name = tempfile.mkstemp(prefix=_prefix(out), suffix=out.suffix, dir=out.parent)
        os.close(fd)
    except OSError as e:
        raise _os_error(e, out) from None
    tmp = Path(name)
    try:
        yield tmp
        if not tmp.is_file():
            raise InputError(f"nothing was written to {_shown(out)}")
        os.chmod(tmp, 0o666 & ~_umask())
        fsync_path(tmp)
        os.replace(tmp, out)
        fsync_path(out.parent)
    except OSError as e:
        raise _os_error(e, out) from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (:func:`atomic_file`)."""
    with atomic_file(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (:func:`atomic_file`)."""
    return write_bytes(path, text.encode())


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, replaceable: Callable[[Path], bool] | None = None,
               what: str = "a directory") -> Iterator[Path]:
    """``with atomic_dir(p) as tmp:`` fill the new directory ``tmp`` (beside ``p``); when the
    block ends without an error every file is flushed to disk and ``tmp`` takes ``p``'s place
    in one atomic swap (the old ``p``, when there was one, is then removed).  ``p`` may be
    missing, empty, or a directory ``replaceable(p)`` accepts (:func:`directory_path`).
    On an error (or a kill) ``p`` keeps its old content."""
    out = directory_path(path, replaceable, what).absolute()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        _clean_leftovers(out)
        tmp = Path(tempfile.mkdtemp(prefix=_prefix(out), dir=out.parent))
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it 0700; a directory is for everyone
    except OSError as e:
        raise _os_error(e, out) from None
    try:
        yield tmp
        fsync_tree(tmp)
        _swap_in(tmp, out)
    except OSError as e:
        raise _os_error(e, out) from None
    finally:
        if tmp.exists():  # the new one on an error; the old one after the swap
            shutil.rmtree(tmp, ignore_errors=True)


def _swap_in(tmp: Path, out: Path) -> None:
    """Put the directory ``tmp`` at ``out``; ``tmp`` then holds the old ``out``, if any."""
    if not out.exists():
        try:
            os.rename(tmp, out)  # atomic; fails if out appeared meanwhile (then swap below)
            fsync_path(out.parent)
            return
        except OSError as e:
            if e.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
    if out.is_dir() and not any(out.iterdir()):
        out.rmdir()  # an empty directory: nothing to keep
        os.rename(tmp, out)
        fsync_path(out.parent)
        return
    if _exchange(tmp, out):
        fsync_path(out.parent)
        return
    # no atomic swap here: the old directory goes aside under tmp's own (named) prefix first
    aside = Path(tempfile.mkdtemp(prefix=_prefix(out), dir=out.parent))
    aside.rmdir()
    os.rename(out, aside)
    os.rename(tmp, out)
    fsync_path(out.parent)
    os.rename(aside, tmp)


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
