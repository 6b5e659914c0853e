"""Synaptic paths: every chain of linear ops between two populations, composed into one map.

On Loihi a synapse block connects two populations directly, so the chains of stateless
ops that NIR allows between them (Affine → Flatten, Conv2d → SumPool2d, Scale, several
edges summed, Delay) are composed into one matrix per (source population, target
population, delay).  For a target population N the summed input of step t is::

    x_N[t] = Σ_paths M_p · s_src(p)[t − d_p] + b_N

where ``M_p`` is the product of the ops' matrices along the path (:mod:`snnc.compiler.linear`),
``d_p`` the float-time delay of the path (Delay nodes plus one step for every back edge of
the schedule), and ``b_N`` the biases of the ops, each propagated once through the ops
downstream of it.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.sparse as sp

from snnc.compiler import linear
from snnc.compiler.discretize import Convention, delay_steps
from snnc.compiler.ir import ops
from snnc.compiler.ir.graph import Graph
from snnc.errors import ValidationError


@dataclasses.dataclass
class Path:
    """Composed connection from population ``source`` into a target population.

    ``matrix`` is (n_target, n_source): a CSR matrix, or a dense float64 ndarray when the
    path is one dense op (Affine/Linear, optionally followed by Flatten or Scale), which is
    kept dense (never converted to CSR) up to quantization.  ``delay`` is a per-column
    (source neuron) array of float-time delays in steps.  Treat ``matrix`` as read-only: a
    dense one may be the op's own weight array.
    """

    source: str
    #: the matrix, or a :class:`_LazyMatrix` that builds it on first use of :attr:`matrix`
    stored: "sp.csr_matrix | np.ndarray | _LazyMatrix"
    delay: np.ndarray
    #: the Conv2d op when the path is exactly one convolution applied to a population
    #: (so it can stay a shared-kernel block on the chip); None otherwise
    conv: ops.Conv2d | None = None
    #: True when ``matrix`` is the identity (the path has not passed through any op yet)
    identity: bool = False

    @property
    def matrix(self) -> sp.csr_matrix | np.ndarray:
        if isinstance(self.stored, _LazyMatrix):
            self.stored = self.stored.get()
        return self.stored


@dataclasses.dataclass
class Inflow:
    """Everything that flows into one population (or Output port)."""

    paths: list[Path]
    bias: np.ndarray  # per target element (flattened); zeros when there is none


def _is_population(node) -> bool:
    return isinstance(node, (ops.NeuronOp, ops.Input))


def inflow(graph: Graph, target: str, conv: Convention, back: set[tuple[str, str]]) -> Inflow:
    """Compose every path of linear ops that ends in ``target``; see the module docstring."""
    memo: dict[str, tuple[list[Path], np.ndarray]] = {}
    visiting: set[str] = set()

    def value_of(name: str) -> tuple[list[Path], np.ndarray]:
        """The paths and bias that make up the *output* of node ``name``."""
        node = graph[name]
        if _is_population(node):
            n = int(np.prod(node.out_shape, dtype=np.int64))
            return [Path(name, sp.identity(n, format="csr"), np.zeros(n, np.int64), identity=True)], np.zeros(n)
        if name in memo:
            return memo[name]
        if name in visiting:
            raise ValidationError(
                "a cycle of linear ops without a neuron in it (an algebraic loop)",
                node=node.source or name,
                hint="every recurrent connection must pass through a neuron population",
            )
        visiting.add(name)
        terms, bias_in = summed_input(name)
        if isinstance(node, ops.Delay):
            steps = delay_steps(node, conv).reshape(-1)
            terms = [_delay_path(p, steps, node) for p in terms]
            out = (terms, bias_in)
        else:
            b = linear.bias_vector(node)
            if np.any(bias_in):
                out_bias = linear.as_matrix(node) @ bias_in + (0.0 if b is None else b)
            else:  # A·0 = 0 exactly: no need to build A
                out_bias = np.zeros(_size(node.out_shape)) + (0.0 if b is None else b)
            a = _LazyMatrix(node)
            out = ([_compose(node, a, p) for p in terms], out_bias)
        visiting.discard(name)
        memo[name] = out
        return out

    def summed_input(name: str) -> tuple[list[Path], np.ndarray]:
        """The paths and bias of the sum of ``name``'s incoming edges (back edges: +1 step)."""
        terms: list[Path] = []
        bias = np.zeros(int(np.prod(graph[name].in_shape, dtype=np.int64)))
        for pred in graph.predecessors(name):
            p_paths, p_bias = value_of(pred)
            extra = 1 if (pred, name) in back else 0
            terms.extend(dataclasses.replace(p, delay=p.delay + extra) for p in p_paths)
            bias = bias + p_bias
        return terms, bias

    paths, bias = summed_input(target)
    return Inflow(_merge(paths), bias)


def _size(shape) -> int:
    return int(np.prod(shape, dtype=np.int64))


class _LazyMatrix:
    """An op's matrix, built (once) only when a composition needs it."""

    def __init__(self, node) -> None:
        self.node = node
        self._m: sp.csr_matrix | None = None

    def get(self) -> sp.csr_matrix:
        if self._m is None:
            self._m = linear.as_matrix(self.node)
        return self._m


def _compose(node, a: _LazyMatrix, p: Path) -> Path:
    """``node`` (matrix ``a``) applied after path ``p``; keeps track of a lone Conv2d.

    Products that cannot change a value are skipped: Flatten is the identity, an op applied
    to the identity is the op's own matrix (dense ops stay dense ndarrays), Scale on a dense
    path scales its rows, a pool after a lone convolution is one convolution
    (:func:`linear.conv_then_pool`).  Every other product is the sparse product ``a @ p.matrix``.
    """
    if isinstance(node, ops.Flatten):  # the identity; a conv followed by anything is no lone conv
        return dataclasses.replace(p, conv=None)
    if isinstance(node, ops.Conv2d) and p.conv is None and not p.identity and is_identity(p.matrix):
        p = dataclasses.replace(p, identity=True)  # e.g. Scale(1) before the conv
    if p.identity:
        lone_conv = isinstance(node, ops.Conv2d) and p.conv is None and p.matrix.shape[0] == _size(node.in_shape)
        if isinstance(node, (ops.Affine, ops.Linear)):
            return Path(p.source, np.asarray(node.weight, dtype=np.float64), p.delay)
        return Path(p.source, a, p.delay, node if lone_conv else None)  # built when first needed
    if isinstance(node, ops.SumPool2d) and p.conv is not None and isinstance(p.stored, _LazyMatrix):
        both = linear.conv_then_pool(p.conv, node)  # one convolution: the conv's own matrix is never built
        if both is not None:
            return Path(p.source, _LazyMatrix(both), p.delay)
    if isinstance(p.matrix, np.ndarray):
        if isinstance(node, ops.Scale):  # diag(s)·M: row i times s_i, as the sparse product does
            return Path(p.source, np.asarray(node.scale, dtype=np.float64).reshape(-1, 1) * p.matrix, p.delay)
        return Path(p.source, (a.get() @ sp.csr_matrix(p.matrix)).tocsr(), p.delay)
    return Path(p.source, (a.get() @ p.matrix).tocsr(), p.delay)


def is_identity(m: sp.csr_matrix | np.ndarray) -> bool:
    """True for the identity matrix (a path that has not passed through any op yet)."""
    if isinstance(m, np.ndarray):
        n = m.shape[0]
        return m.ndim == 2 and m.shape == (n, n) and bool(np.all(np.diagonal(m) == 1.0)) and np.count_nonzero(m) == n
    if m.shape[0] != m.shape[1] or m.nnz != m.shape[0]:
        return False
    coo = m.tocoo()
    return bool(np.all(coo.row == coo.col) and np.all(coo.data == 1.0))


def _delay_path(p: Path, steps: np.ndarray, node: ops.Delay) -> Path:
    """Apply an elementwise delay to a path's output.

    A uniform delay shifts the whole path; a per-element delay is exact only where each
    output element depends on a single source column with a known delay, which holds when
    the path is still a one-to-one map (Delay right after a population).
    """
    if steps.size == 0 or np.all(steps == steps.flat[0]):
        return dataclasses.replace(p, delay=p.delay + (int(steps.flat[0]) if steps.size else 0))
    m = sp.csc_matrix(p.matrix)
    if m.shape[0] == m.shape[1] and m.nnz == m.shape[0] and np.all(np.diff(m.indptr) == 1):
        rows = m.indices  # column j feeds row rows[j]
        return Path(p.source, p.matrix, p.delay + steps[rows], identity=p.identity)
    raise ValidationError(
        "a per-neuron Delay inside a chain of synapses cannot be mapped to per-synapse delays",
        node=node.source,
        hint="put per-neuron delays directly after a neuron population, or use one delay value",
    )


def _merge(paths: list[Path]) -> list[Path]:
    """Sum the paths that share a source and a delay vector."""
    merged: dict[tuple[str, bytes], Path] = {}
    for p in paths:
        key = (p.source, p.delay.tobytes())
        if key in merged:
            q = merged[key]
            merged[key] = Path(p.source, (sp.csr_matrix(q.matrix) + sp.csr_matrix(p.matrix)).tocsr(), p.delay)
        else:
            merged[key] = p
    return list(merged.values())
