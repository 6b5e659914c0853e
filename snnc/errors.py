"""The one exception hierarchy of snnc.

Every error a user can cause derives from :class:`SnncError` and carries

* ``node``  -- the layer it concerns (the user's own name where known), or ``None``;
* ``hint``  -- one sentence that says how to fix it.

Each subclass also inherits the matching builtin, so ``except ValueError`` keeps working
for callers that do not know snnc.  The CLI prints ``error: <message>`` and ``hint: <hint>``
and exits with status 2 (3 for :class:`IRError`, which means a bug in snnc).
"""

from __future__ import annotations


class SnncError(Exception):
    """Root of every snnc error: a message, the node it concerns and a hint."""

    exit_code = 2

    def __init__(self, message: str, *, node: str | None = None, hint: str | None = None):
        self.message = message
        self.node = node
        self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = f"layer '{self.node}': " if self.node else ""
        return f"{where}{self.message}"


class FrontendError(SnncError, ValueError):
    """A model file or object could not be read (missing, corrupt, foreign, wrong shapes)."""


class UnsupportedOpError(FrontendError):
    """The model uses a node type that snnc cannot map to Loihi."""


class ValidationError(SnncError, ValueError):
    """The graph is well-formed but violates a rule (shapes, NaN, unstable discretization)."""


class QuantizationError(SnncError, ValueError):
    """A value cannot be represented in the target's fixed-point format."""


class CalibrationError(SnncError, ValueError):
    """Calibration data is missing, empty or does not fit the model."""


class ResourceError(SnncError, ValueError):
    """The network does not fit the target's cores, chips or memories."""


class BackendError(SnncError, RuntimeError):
    """A backend failed while running a program (including Lava child-process failures)."""


class BackendTimeoutError(BackendError, TimeoutError):
    """A backend run did not finish within its watchdog timeout."""


class BackendUnavailableError(BackendError, ImportError):
    """A backend's software or hardware is not installed or not reachable."""


class InputError(SnncError, ValueError):
    """Run-time input data has the wrong shape, type or values."""


class ArgumentError(InputError, TypeError):
    """A function of the public API got an argument of the wrong type (``Program.load(None)``,
    ``run(x, timeout="abc")``); also a ``TypeError``."""


class IRError(SnncError, RuntimeError):
    """An internal invariant of the IR is broken: a bug in snnc, not in the user's model."""

    exit_code = 3
