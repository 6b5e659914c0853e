"""The Lava backend: real lava-nc 0.10.0 processes (CPU, ``fixed_pt``), under a watchdog.

The only place in snnc that imports Lava, and only inside functions, so importing this
package never needs Lava.  It defines no Lava Process or ProcessModel (Lava's compiler
imports every module beside one).

* ``run(graph, x, steps, record=None, timeout=None) -> RunResult``: the backend; each run
  executes in a child process (:mod:`.worker`) that is killed on timeout.
* ``to_lava(graph, x_sample, steps, record=None) -> LavaNetwork``: the processes, for users
  who wire or run them themselves (``LavaNetwork.run()`` runs in-process, no watchdog).
"""

from snnc.backends.lava.build import LavaNetwork, to_lava
from snnc.backends.lava.run import (
    BACKEND,
    NAME,
    default_timeout,
    last_run_info,
    lava_available,
    run,
)

__all__ = [
    "BACKEND",
    "NAME",
    "LavaNetwork",
    "default_timeout",
    "last_run_info",
    "lava_available",
    "run",
    "to_lava",
]
