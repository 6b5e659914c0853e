"""The Loihi 2 hardware backend: the Lava backend's processes under ``Loihi2HwCfg``.

Needs Intel's closed **lava-loihi** extension of Lava and a reachable Loihi 2 board.  Both are
detected, never assumed (:func:`status`):

* software -- the modules lava-loihi adds to the ``lava`` namespace (:data:`REQUIRED_MODULES`:
  the NeuroCore sub-compiler and the hardware profiler API), looked up on ``sys.path`` on disk
  (nothing is imported: importing Lava sets the multiprocessing start method);
* board -- Intel's INRC systems reach boards through SLURM (``sinfo`` on the PATH, or
  ``SLURM``/``BOARD``/``PARTITION`` set, as ``lava.utils.slurm`` uses them); a directly
  attached host sets ``NXSDKHOST``.

Without them every entry point raises :class:`~snnc.errors.BackendUnavailableError` saying
what is missing and how to get access (:data:`ACCESS_HINT`).

With them, :func:`run` builds, per sample, exactly the processes of
:func:`snnc.backends.lava.to_lava` (``Dense``/``Sparse``/``DelayDense``/``Conv`` + ``LIF``,
RingBuffer source and sinks) and runs them with ``Loihi2HwCfg()``; Intel's
``Loihi2HWProfiler`` (through Lava's ``lava.utils.profiler.Profiler.init``) probes the energy,
read by :func:`read_profile` into a plain dict (``last_profile``) that snnc's energy report can
take.  The placement
(``prog.placement``) is checked against the program and recorded beside the profiler's
``num_alloc_chips``: lava-loihi's compiler allocates cores itself and Lava 0.10 exposes no
public way to pin a process to a core, so snnc cannot impose its placement on the board.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
from collections.abc import Sequence
from importlib.machinery import all_suffixes
from pathlib import Path
from typing import Any

import numpy as np

from snnc.backends.base import BackendSpec, RunResult
from snnc.backends.wiring import check_input, check_record, check_steps, refuse_sigma_delta, wiring
from snnc.backends.lava.build import to_lava
from snnc.compiler.ir import loihi
from snnc.errors import BackendUnavailableError, ValidationError

NAME = "loihi2"

#: module -> what it is; all are shipped by lava-loihi only (not by lava-nc 0.10.0)
REQUIRED_MODULES = {
    "lava.magma.compiler.subcompilers.nc": "lava-loihi's NeuroCore sub-compiler",
    "lava.utils.loihi2_profiler_api": "lava-loihi's Loihi2HWProfiler",
}
ACCESS_HINT = (
    "lava-loihi is Intel's closed extension of Lava, available to members of the Intel "
    "Neuromorphic Research Community (INRC: https://www.intel.com/content/www/us/en/research/"
    "neuromorphic-community.html); install it in this environment on an INRC system with a "
    "Loihi 2 board. Until then backend='lava' runs the same fixed_pt processes on the CPU, "
    "spike for spike equal to backend='emulator'"
)
#: the parts of Loihi2HWProfiler.energy_breakdown() / power_breakdown(), in their order
BREAKDOWN_PARTS = ("total", "dynamic", "static", "vdd", "vdd_m", "vdd_io")
#: Loihi2HWProfiler attributes read into the profile dict (those present are taken)
PROFILER_FIELDS = (
    "execution_time", "host_time", "learning_time", "management_time", "pre_lrn_mgmt_time",
    "spiking_time", "power", "static_power", "dynamic_power", "vdd_power", "vddm_power",
    "vddio_power", "energy", "static_energy", "dynamic_energy", "num_alloc_chips",
)

#: the profile of the last hardware run (see :func:`read_profile`)
last_profile: dict[str, Any] = {}


@dataclasses.dataclass(frozen=True)
class HardwareStatus:
    """What :func:`status` found: ``available`` only when software and board are both there."""

    missing_modules: tuple[str, ...]
    board: str | None

    @property
    def available(self) -> bool:
        return not self.missing_modules and self.board is not None

    @property
    def reason(self) -> str:
        if self.missing_modules:
            what = "; ".join(f"{m} ({REQUIRED_MODULES[m]})" for m in self.missing_modules)
            return f"lava-loihi is not installed: missing {what}"
        if self.board is None:
            return ("no Loihi 2 board is reachable: no SLURM (`sinfo` not found; SLURM, BOARD, "
                    "PARTITION unset) and no NXSDKHOST")
        return f"Loihi 2 available ({self.board})"


def _has_module(name: str) -> bool:
    """Whether ``name`` exists on ``sys.path``, found on disk without importing anything.

    (``importlib.util.find_spec`` would import the parent packages, i.e. Lava itself.)
    """
    parts = name.split(".")
    for entry in sys.path:
        base = Path(entry or ".", *parts[:-1])
        if (base / parts[-1]).is_dir():
            return True
        if any((base / (parts[-1] + suffix)).is_file() for suffix in all_suffixes()):
            return True
    return False


def _board() -> str | None:
    env = os.environ
    if env.get("BOARD") or env.get("PARTITION"):
        return "slurm:" + (env.get("BOARD") or env.get("PARTITION"))
    if env.get("SLURM") == "1" or shutil.which("sinfo"):
        return "slurm"
    if env.get("NXSDKHOST"):
        return "host:" + env["NXSDKHOST"]
    return None


def status() -> HardwareStatus:
    """Detect lava-loihi (by module lookup, no import) and a reachable board."""
    missing = tuple(m for m in REQUIRED_MODULES if not _has_module(m))
    return HardwareStatus(missing, _board())


def require() -> HardwareStatus:
    """:func:`status`, or :class:`BackendUnavailableError` when the hardware path is missing."""
    st = status()
    if not st.available:
        raise BackendUnavailableError(f"the Loihi 2 hardware backend cannot run: {st.reason}",
                                      hint=ACCESS_HINT)
    return st


def _plain(value: Any) -> Any:
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        return None
    return arr.item() if arr.ndim == 0 else arr.astype(np.float64).tolist()


def _breakdown(profiler: Any, method: str, unit: str) -> dict[str, float]:
    fn = getattr(profiler, method, None)
    if not callable(fn):
        return {}
    try:
        values = fn()
    except Exception:  # noqa: BLE001 - a probe that was not enabled raises on access
        return {}
    return {f"{part}_{unit}": float(v) for part, v in zip(BREAKDOWN_PARTS, values)}


def read_profile(profiler: Any, steps: int) -> dict[str, Any]:
    """The profiler's readings as plain numbers, in the form the energy report takes.

    * ``energy_breakdown()`` -> ``total_uj``, ``dynamic_uj``, ``static_uj``, ``vdd_uj``,
      ``vdd_m_uj``, ``vdd_io_uj`` (µJ) and ``power_breakdown()`` -> the same parts in W;
      Intel's public examples compute the run time as ``total_uj · 1e-6 / total_w``, which
      gives ``time_s`` and ``time_per_step_s`` here;
    * every attribute of :data:`PROFILER_FIELDS` the profiler has, under ``raw`` (scalars as
      float, per-step series as lists, in the profiler's own units).
    """
    raw = {}
    for f in PROFILER_FIELDS:
        if hasattr(profiler, f):
            try:
                value = _plain(getattr(profiler, f))
            except Exception:  # noqa: BLE001 - a probe that was not enabled raises on access
                value = None
            if value is not None:
                raw[f] = value
    out: dict[str, Any] = {"source": "Loihi2HWProfiler", "steps": int(steps)}
    out.update(_breakdown(profiler, "energy_breakdown", "uj"))
    out.update(_breakdown(profiler, "power_breakdown", "w"))
    if out.get("total_uj") is not None and out.get("total_w"):
        out["time_s"] = out["total_uj"] * 1e-6 / out["total_w"]
        out["time_per_step_s"] = out["time_s"] / max(int(steps), 1)
    if "num_alloc_chips" in raw:
        out["chips"] = int(np.max(raw["num_alloc_chips"]))
    out["raw"] = raw
    return out


def check_placement(graph, placement) -> dict[str, Any] | None:
    """Check ``placement`` covers every population of ``graph``; summarise it."""
    if placement is None:
        return None
    for c in graph.of_kind(loihi.Compartment):
        cores = placement.core_of.get(c)
        if cores is None or np.asarray(cores).size != graph[c].size:
            raise ValidationError(
                "the placement does not cover this population's neurons", node=c,
                hint="recompile the program so that its placement matches its graph",
            )
    return {"target": placement.target, "strategy": placement.strategy,
            "cores": placement.n_cores, "chips": placement.n_chips}


def run(graph, x, steps: int, record: Sequence[str] | None = None, *, placement=None,
        profile: bool = True) -> RunResult:
    """Run ``graph`` on a Loihi 2 board; the contract of the emulator's ``run``.

    Raises :class:`BackendUnavailableError` (with :data:`ACCESS_HINT`) without lava-loihi
    or a board.  Sets :data:`last_profile` (one profile per sample, plus the placement).
    Sigma-delta programs are refused (not yet built for the board: their payloads are not read).
    """
    refuse_sigma_delta(graph, "the Loihi 2 hardware backend",
                       hint="run it on Lava's CPU models (backend='lava') or the emulator")
    require()
    from lava.magma.core.run_configs import Loihi2HwCfg
    from lava.utils.profiler import Profiler  # picks Loihi2HWProfiler for Loihi2HwCfg

    steps = check_steps(steps)
    w = wiring(graph)
    xs = check_input(graph, x, steps, w)
    rec = check_record(w, record)
    batch = xs.batch
    placed = check_placement(graph, placement)
    spikes = {c: np.zeros((batch, steps, graph[c].size), bool) for c in rec}
    vs = {c: np.zeros((batch, steps, graph[c].size), np.int64)
          for c in rec if graph[c].readout == "v"}
    profiles = []
    for i in range(batch):
        net = to_lava(graph, xs[i : i + 1], steps, rec)
        cfg = Loihi2HwCfg()
        profiler = Profiler.init(cfg) if profile else None
        if profiler is not None:  # energy only: Intel notes the time probe distorts power
            profiler.energy_probe(num_steps=steps)
        s_i, v_i = net.run(run_cfg=cfg)
        for c, a in s_i.items():
            spikes[c][i] = a
        for c, a in v_i.items():
            vs[c][i] = a
        if profiler is not None:
            profiles.append(read_profile(profiler, steps))
    last_profile.clear()
    last_profile.update({"samples": profiles, "placement": placed})

    def shaped(c: str, a: np.ndarray) -> np.ndarray:
        return a.reshape((batch, steps) + tuple(graph[c].shape))

    return RunResult({c: shaped(c, a) for c, a in spikes.items()},
                     {c: shaped(c, a) for c, a in vs.items()}, steps, NAME)


#: the Loihi 2 board as the registry lists it (:mod:`snnc.backends.registry`)
BACKEND = BackendSpec(
    name=NAME,
    title="the Loihi 2 board",
    summary="a Loihi 2 board through Intel's lava-loihi",
    options=frozenset({"placement", "profile"}),
    runner=run,
    bit_exact=False,
    build=to_lava,
)
