"""The float reference simulator: what a float-dialect graph means, step by step.

``simulate(graph, x, ...)`` runs a float-dialect :class:`~snnc.compiler.ir.graph.Graph` (or anything
:func:`snnc.frontends.nir.load_nir` accepts) on ``x`` of shape ``(batch, T, *input_shape)`` in
float64, vectorized over the batch.  The semantics are those of :mod:`snnc.compiler.discretize`
(the :class:`~snnc.compiler.discretize.Convention` built from the keyword arguments), of
:mod:`snnc.compiler.linear`, and of NIR's graph rules:

* **order** -- each step evaluates the nodes in ``graph.schedule()`` order.  A node's input is the
  sum of its incoming edges.  An ordinary edge carries its source's value of the *same* step (zero
  latency per layer, as in NIR and every PyTorch simulator); a *back edge* (one that closes a
  cycle, per ``schedule()``) carries the source's value of the *previous* step;
* **rest state** -- before step 0 the network is at rest: neurons have v = I = 0 and emit 0, the
  input is 0, and every linear op outputs what it computes from its predecessors' rest values --
  its bias, for an Affine fed by spikes.  So a back edge carries at step 0 the rest value of its
  source.  This is the continuous-time reading (W·z + b with z = 0 before t = 0), it does not depend
  on which edge of a cycle ``schedule()`` picks as the back edge, and it reproduces snnTorch's
  ``RLeaky``, whose recurrent ``nn.Linear`` adds its bias at step 0;
* **linear ops** -- ``y = A x + b`` with ``A = linear.as_matrix(op)``, ``b = linear.bias_vector(op)``;
* **Delay** -- ``y[t] = x[t − d]`` with ``d = discretize.delay_steps(op)`` per element (a ring
  buffer holding the input's rest value before step 0);
* **neurons** -- with the per-neuron coefficients of ``discretize.coefficients(op, convention)``::

      I ← α_I·I + g_in·x ;   v ← α_v·v + g_v·I + b_v ;   z = v > θ (or v ≥ θ) ;   v ← v_reset where z
      (``reset="subtract"``: v ← v − θ where z)

  from v = I = 0.  Layers carrying snnTorch's export (:func:`snnc.compiler.conventions.mark_snntorch_resets`)
  reset when snnTorch does: an RSynaptic CubaLIF one step late (v ← v_reset, or v − θ, on the step
  *after* a spike, applied to the new membrane; snnTorch 1.0.0's bug), and under
  ``reset="subtract"`` a Leaky/Synaptic judges its spike on v − θ while the stored membrane is still
  above θ.  Spiking neurons (LIF, CubaLIF, IF) output z as 0./1.; read-outs (LI, I, CubaLI)
  output v;
* **sigma-delta neurons** (:class:`~snnc.compiler.ir.ops.SigmaDeltaOp`, docs/decisions/0007) --
  graded messages, from σ = ŝ = 0::

      Delta:      y = x
      SigmaDelta: σ ← σ + x ;  y = max(σ + b, 0)
      then        d = y − ŝ ;  s = d where |d| ≥ θ else 0 ;  ŝ ← ŝ + s ;  output s
                  (computed as Lava does: d = (y − act) + residue ; residue = d − s ; act = y)
      Sigma:      σ ← σ + x ;  output σ + b

  (ŝ: what the receivers hold.)  With zero latency per layer a static input held from step 0
  gives, at every step, the ANN with a dead zone: a neuron whose activation stays below θ sends
  nothing;
* **Input / Output** -- the Input node emits ``x[:, t]``; an Output node emits the sum of its inputs.

Defaults (those of :class:`~snnc.compiler.discretize.Convention`, matching snnTorch's exporter and
the NIR paper graphs): ``dt=1e-4``, ``integration="euler"``, ``spike_if=">"``,
``synapse_input="ode"``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, Callable, Union

import numpy as np

from snnc.compiler import discretize, linear
from snnc.compiler.conventions import (
    DELAYED,
    SNNTORCH_RESET,
    SUBTRACT_JUDGED_AFTER_RESET,
    mark_snntorch_resets,
    repair_rockpool,
)
from snnc.compiler.discretize import Convention
from snnc.compiler.ir import ops
from snnc.compiler.ir.graph import Graph, Node
from snnc.errors import InputError, ValidationError

__all__ = ["simulate"]
log = logging.getLogger(__name__)

Step = Callable[[np.ndarray, int], np.ndarray]  # (input (batch, n_in), t) -> (batch, n_out)
Result = Union[np.ndarray, dict[str, np.ndarray]]


def _size(shape: tuple[int, ...]) -> int:
    return int(np.prod(shape, dtype=np.int64))


# =============================================================================== steppers
class _Neuron:
    """One population's state (I, v) and its discrete update; see the module docstring."""

    def __init__(self, node: ops.NeuronOp, conv: Convention, batch: int):
        c = discretize.coefficients(node, conv)
        flat = lambda a: None if a is None else np.asarray(a, dtype=np.float64).ravel()  # noqa: E731
        self.alpha_i, self.g_in = flat(c.alpha_i), flat(c.g_in)
        self.alpha_v, self.g_v, self.b_v = flat(c.alpha_v), flat(c.g_v), flat(c.b_v)
        self.threshold, self.v_reset = flat(c.v_threshold), flat(c.v_reset)
        self.inclusive = conv.spike_if == ">="
        self.subtract = conv.reset == "subtract"
        n = _size(node.shape)
        self.i = np.zeros((batch, n))
        self.v = np.zeros((batch, n))
        self.z: np.ndarray | None = None  # the last step's spikes (spiking populations)
        # snnTorch's reset timing where the graph is marked with it (snnc.compiler.conventions)
        timing = node.meta.get(SNNTORCH_RESET) if self.threshold is not None else None
        self.delayed = timing == DELAYED
        self.judged_after_reset = timing == SUBTRACT_JUDGED_AFTER_RESET and self.subtract

    def _fires(self, v: np.ndarray) -> np.ndarray:
        return v >= self.threshold if self.inclusive else v > self.threshold

    def __call__(self, x: np.ndarray, t: int) -> np.ndarray:
        self.i = self.alpha_i * self.i + self.g_in * x
        v = self.alpha_v * self.v + self.g_v * self.i + self.b_v
        if self.threshold is None:
            self.v = v
            return v.copy()
        if self.delayed:  # snnTorch RSynaptic: the previous step's spike resets the new membrane
            pending = self.z if self.z is not None else np.zeros(v.shape, dtype=bool)
            v = v - pending * self.threshold if self.subtract else np.where(pending, self.v_reset, v)
            z = self._fires(v)  # and v is not reset on the spike step itself
        elif self.judged_after_reset:  # snnTorch Leaky/Synaptic, subtract, reset_delay=False
            again = self.v > self.threshold  # judged on the stored, already subtracted membrane
            z = self._fires(v - again * self.threshold)
            v = v - z * self.threshold
        else:
            z = self._fires(v)
            v = v - z * self.threshold if self.subtract else np.where(z, self.v_reset, v)
        self.v = v
        self.z = z
        return z.astype(np.float64)


class _SigmaDelta:
    """One sigma-delta population's state (σ, ŝ) and its step; see the module docstring."""

    def __init__(self, node: ops.SigmaDeltaOp, batch: int):
        n = _size(node.shape)
        flat = lambda a: np.asarray(a, dtype=np.float64).reshape(-1)  # noqa: E731
        self.kind = type(node)
        self.threshold = flat(node.threshold) if hasattr(node, "threshold") else None
        self.bias = flat(node.bias) if hasattr(node, "bias") else np.zeros(n)
        self.sigma = np.zeros((batch, n))
        # Lava's registers: act (the last y) and residue (y − ŝ after the step), so that an
        # unchanged activation gives d = 0 exactly (no float round-off is sent)
        self.act = np.zeros((batch, n))
        self.residue = np.zeros((batch, n))

    def __call__(self, x: np.ndarray, t: int) -> np.ndarray:
        if self.kind is ops.Delta:
            y = x
        else:
            self.sigma = self.sigma + x
            if self.kind is ops.Sigma:
                return self.sigma + self.bias
            y = np.maximum(self.sigma + self.bias, 0.0)
        d = (y - self.act) + self.residue  # = y − ŝ[t−1]
        s = np.where(np.abs(d) >= self.threshold, d, 0.0)
        self.residue = d - s
        self.act = y
        return s


class _DelayLine:
    """y[t] = x[t − d] per element, from a ring buffer pre-filled with the input's rest value."""

    def __init__(self, node: ops.Delay, conv: Convention, rest: np.ndarray):
        self.steps = discretize.delay_steps(node, conv).ravel()
        self.length = int(self.steps.max(initial=0)) + 1
        self.buffer = np.repeat(rest[None], self.length, axis=0)  # (L, batch, n)
        self.columns = np.arange(self.steps.size)

    def __call__(self, x: np.ndarray, t: int) -> np.ndarray:
        self.buffer[t % self.length] = x
        return self.buffer[(t - self.steps) % self.length, :, self.columns].T.copy()


def _linear_step(node: Node) -> Step:
    matrix, bias = linear.as_matrix(node), linear.bias_vector(node)
    return lambda x, t: linear.apply(matrix, bias, x)


def _identity(x: np.ndarray, t: int) -> np.ndarray:
    return x


# ============================================================================== the loop
class _Network:
    """The graph's nodes as steppers, in schedule order, with each node's incoming edges."""

    def __init__(self, graph: Graph, conv: Convention, batch: int):
        self.graph = graph
        self.order, back = graph.schedule()
        self.inputs = {
            name: [(s, (s, name) in back) for s in graph.predecessors(name)] for name in self.order
        }
        self.batch = batch
        for name, node in graph.nodes.items():
            if not isinstance(node, ops.FLOAT_OPS):
                raise ValidationError(
                    f"the reference simulator runs float-dialect graphs; got a {node.kind} node",
                    node=node.source or name,
                    hint="simulate the graph before quantization, or use the emulator backend",
                )
        self.linear = {
            name: _linear_step(node) for name, node in graph.nodes.items()
            if isinstance(node, ops.LinearOp) and not isinstance(node, ops.Delay)
        }
        self.rest = self._rest_values()
        self.steps: dict[str, Step] = {name: self._stepper(name, conv) for name in self.order}
        #: the neuron populations' states (``.i``, ``.v``: (batch, n) after the step's update)
        self.neurons = {n: s for n, s in self.steps.items() if isinstance(s, _Neuron)}

    def _flat_zeros(self, node: Node) -> np.ndarray:
        return np.zeros((self.batch, _size(node.out_shape)))

    def _summed(self, name: str, values: dict[str, np.ndarray], prev: dict[str, np.ndarray]):
        node = self.graph[name]
        total = np.zeros((self.batch, _size(node.in_shape)))
        for src, is_back in self.inputs[name]:
            source = prev if is_back else values
            if src in source:
                total = total + source[src]
        return total

    def _rest_values(self) -> dict[str, np.ndarray]:
        """Every node's output before step 0 (see "rest state" in the module docstring)."""
        rest: dict[str, np.ndarray] = {}
        for name in self.order:
            node = self.graph[name]
            if isinstance(node, (ops.Input, ops.NeuronOp)):
                rest[name] = self._flat_zeros(node)
                continue
            x = self._summed(name, rest, rest)  # back edges not yet computed read as 0
            rest[name] = self.linear[name](x, -1) if name in self.linear else x  # Delay, Output
        return rest

    def _stepper(self, name: str, conv: Convention) -> Step:
        node = self.graph[name]
        if isinstance(node, ops.SigmaDeltaOp):
            return _SigmaDelta(node, self.batch)
        if isinstance(node, ops.NeuronOp):
            return _Neuron(node, conv, self.batch)
        if isinstance(node, ops.Delay):
            return _DelayLine(node, conv, self._summed(name, self.rest, self.rest))
        return self.linear.get(name, _identity)  # Input, Output: identity

    def run(
        self,
        input_name: str,
        x: np.ndarray,
        record: list[str],
        observer: Callable[[int, dict[str, Any]], None] | None = None,
    ) -> dict[str, np.ndarray]:
        batch, steps = x.shape[:2]
        flat_x = x.reshape(batch, steps, -1)
        traces = {
            name: np.zeros((batch, steps, _size(self.graph[name].out_shape))) for name in record
        }
        prev = self.rest
        for t in range(steps):
            values: dict[str, np.ndarray] = {}
            for name in self.order:
                if name == input_name:
                    values[name] = flat_x[:, t]
                else:
                    values[name] = self.steps[name](self._summed(name, values, prev), t)
            for name in record:
                traces[name][:, t] = values[name]
            if observer is not None:
                observer(t, self.neurons)
            prev = values
        return {
            name: trace.reshape(batch, steps, *self.graph[name].out_shape)
            for name, trace in traces.items()
        }


# ============================================================================ public API
def _input_port(graph: Graph) -> str:
    names = graph.of_kind(ops.Input)
    if len(names) != 1:
        raise InputError(
            f"simulate takes one input array, but the graph has {len(names)} Input nodes"
            + (f" ({', '.join(names)})" if names else ""),
            hint="give the graph exactly one Input node",
        )
    return names[0]


def _check_x(x: Any, shape: tuple[int, ...]) -> np.ndarray:
    expected = f"(batch, T, {', '.join(map(str, shape))})" if shape else "(batch, T)"
    try:
        arr = np.asarray(x)
    except Exception:  # noqa: BLE001 - any failure to make an array is an input error
        raise InputError(f"x is not array-like: {type(x).__name__}", hint=f"pass {expected}") \
            from None
    if arr.dtype.kind not in "biuf":
        raise InputError(
            f"x must be boolean or numeric, got dtype {arr.dtype}", hint="pass spikes as 0/1"
        )
    if arr.ndim != 2 + len(shape) or tuple(arr.shape[2:]) != tuple(shape):
        raise InputError(
            f"x has shape {tuple(arr.shape)}, expected {expected}",
            hint="x is (batch, time, *input_shape); add a batch axis for a single sample",
        )
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise InputError("x contains NaN or inf", hint="input values must be finite")
    return arr


def _record_list(graph: Graph, record: str | Iterable[str] | None) -> list[str]:
    if record is None:
        outputs = graph.of_kind(ops.Output)
        if not outputs:
            raise ValidationError(
                "the graph has no Output node", hint="add an Output node, or pass record='all'"
            )
        return outputs
    if isinstance(record, str):
        if record == "all":
            return list(graph.nodes)
        record = [record]
    names = list(record)
    missing = [n for n in names if n not in graph]
    if missing:
        raise InputError(
            f"cannot record unknown node(s) {missing}",
            hint=f"known nodes: {', '.join(graph.nodes)}",
        )
    return names


def observe_states(
    graph: Graph,
    x: Any,
    convention: Convention,
    observer: Callable[[int, dict[str, Any]], None],
) -> None:
    """Run ``graph`` on ``x`` and call ``observer(t, neurons)`` after every step.

    ``neurons`` maps each population's name to its state object with arrays ``.i`` (the
    synaptic current I), ``.v`` (the membrane voltage, after reset) and ``.z`` (the step's
    spikes, bool; ``None`` for read-outs), each (batch, n).
    Used by :mod:`snnc.calibration` to collect statistics without recording whole traces.
    """
    input_name = _input_port(graph)
    arr = _check_x(x, tuple(graph[input_name].out_shape))
    _Network(graph, convention, arr.shape[0]).run(input_name, arr, [], observer)


def _repair(graph: Graph, conv: Convention) -> Graph:
    """Rockpool's exporter writes an r its own update does not use, and snnTorch resets some
    layers at another time than NIR says (snnc.compiler.conventions; each logged)."""
    graph, fixed = repair_rockpool(graph, conv)
    if fixed:
        log.warning("layers %s carry Rockpool 3.1.0's r = tau_mem*exp(-dt/tau_mem)/dt; simulated with "
                    "Rockpool's own membrane gain (snnc.compiler.conventions.repair_rockpool)", fixed)
    graph, _ = mark_snntorch_resets(graph, conv)
    return graph


def simulate(
    graph: Graph,
    x: Any,
    dt: float = 1e-4,
    integration: str = "euler",
    spike_if: str = ">",
    synapse_input: str = "ode",
    record: str | Iterable[str] | None = None,
    reset: str = "value",
) -> Result:
    """Run ``graph`` on ``x`` (batch, T, *input_shape) in float64; see the module docstring.

    Args:
        graph: a float-dialect ``Graph`` (:func:`snnc.simulate` also takes a ``.nir`` path or a
            ``nir.NIRGraph`` and loads it first).
        x: input of shape ``(batch, T, *input_shape)``, bool or numeric (spikes as 0/1).
        dt: time step in the model's time unit (default 1e-4, snnTorch's export).
        integration: ``"euler"`` (default) or ``"exact"`` (zero-order hold).
        spike_if: ``">"`` (default, NIR/snnTorch) or ``">="``.
        synapse_input: CubaLIF input as NIR's ODE (``"ode"``, default) or as a ``"jump"``.
        reset: ``"value"`` (default, v ← NIR's v_reset) or ``"subtract"`` (v ← v − θ).
        record: ``None`` -- the Output node's values (a dict ``name -> array`` if there are
            several Outputs); ``"all"`` -- a dict with every node's output; or node names.

    Returns:
        float64 arrays of shape ``(batch, T, *out_shape)``: spikes as 0./1. for spiking neurons,
        v for read-outs (LI, I, CubaLI), the op's value for linear ops.

    Raises:
        InputError: ``x`` has the wrong shape or type, or the graph has not exactly one Input.
        ValidationError: a bad convention or an unstable discretization (dt/τ > 1 under Euler).
    """
    if not isinstance(graph, Graph):
        raise InputError(
            f"the float reference simulates an snnc Graph, got a {type(graph).__name__}",
            hint="load the model first (snnc.load), or call snnc.simulate, which loads it",
        )
    conv = Convention(dt=dt, integration=integration, spike_if=spike_if,
                      synapse_input=synapse_input, reset=reset)
    graph = _repair(graph, conv)
    input_name = _input_port(graph)
    arr = _check_x(x, tuple(graph[input_name].out_shape))
    names = _record_list(graph, record)
    traces = _Network(graph, conv, arr.shape[0]).run(input_name, arr, names)
    if record is None and len(names) == 1:
        return traces[names[0]]
    return traces
