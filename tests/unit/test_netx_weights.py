"""Differential test of :mod:`snnc.backends.netx_weights` against lava-dl and Lava themselves.

For each stored netx matrix ``W`` the reference is computed by the installed packages, the way
``lava.lib.dl.netx.hdf5.Network`` builds a dense layer: lava-dl's
``netx.utils.optimize_weight_bits(W)`` gives (W_lava, num_weight_bits, weight_exponent,
sign_mode); the netx ``Dense`` block hands W_lava, the bits and the exponent to Lava's
``Dense`` but *not* lava-dl's sign mode, so Lava's bit-accurate model picks its own
(``weightutils.determine_sign_mode``), then ``clip_weights`` / ``truncate_weights`` and, each
step, shifts the accumulated sum by ``weight_exp`` (lava/proc/dense/models.py).

snnc must then either give the integer matrix ``M`` with Lava's output equal to ``M · s`` for
every input, or a reason string, and a reason only where lava-dl's arithmetic leaves its valid
range or Lava's output is not linear per synapse.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import warnings
from dataclasses import dataclass

import numpy as np
import pytest

netx_utils = pytest.importorskip("lava.lib.dl.netx.utils")
wu = pytest.importorskip("lava.utils.weightutils")

from snnc.backends.netx_weights import netx_effective, netx_effective_parts, netx_optimize  # noqa: E402


@dataclass
class LavaDense:
    """lava-dl's optimizer output and what Lava's Dense makes of it."""

    w_lava: np.ndarray
    bits: int
    exp: int
    clipped: bool  # lava-dl printed its "cannot be optimized ... clipped" warning
    wt: list[np.ndarray]  # Lava's clipped+truncated weights, one per Dense

    def out(self, part: int, s: np.ndarray) -> np.ndarray:
        """Lava's Dense ``a_buff`` for input ``s`` (binary or graded), as models.py computes it."""
        acc = self.wt[part].astype(np.int64) @ np.asarray(s, dtype=np.int64)
        return np.left_shift(acc, self.exp) if self.exp > 0 else np.right_shift(acc, -self.exp)

    def bits_in_range(self) -> bool:
        """lava-dl's result within its own valid range: no clipping, a non-negative scale
        shift, and a bit count Loihi's synapse (and Lava's truncation) takes."""
        return not self.clipped and self.exp <= 0 and 1 <= self.bits <= 8


def lava(parts: list[np.ndarray]) -> LavaDense | Exception:
    """lava-dl's netx on ``[W_0 | W_1 ...]`` (``dense_rec`` when two), each part a Lava Dense."""
    w = np.hstack([np.asarray(p, dtype=int) for p in parts])
    out = io.StringIO()
    with contextlib.redirect_stdout(out), warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            w_lava, bits, exp, _ = netx_utils.optimize_weight_bits(w.copy())
        except (OverflowError, ValueError, ZeroDivisionError) as e:
            return e
    wts, col = [], 0
    for p in parts:
        wl = w_lava[:, col : col + np.shape(p)[1]]
        col += np.shape(p)[1]
        mode = wu.determine_sign_mode(wl)  # netx does not pass lava-dl's sign mode on
        with np.errstate(all="ignore"):
            wts.append(wu.truncate_weights(wu.clip_weights(wl, mode, num_bits=8), mode, bits))
    return LavaDense(w_lava, bits, exp, "clipped" in out.getvalue(), wts)


def _inputs(n: int, rng: np.random.Generator) -> list[np.ndarray]:
    binary = [np.array(v) for v in itertools.product((0, 1), repeat=n)]
    graded = [rng.integers(0, 1 << 10, n) for _ in range(8)]
    return binary + graded


def _not_per_synapse(ref: LavaDense, part: int) -> bool:
    """Lava's output for this Dense is no integer matrix times the input: some weight is not a
    multiple of 2^-exp, so graded inputs 1 and 2^-exp on that synapse give outputs that are not
    in proportion (binary spikes alone may hide it)."""
    if ref.exp >= 0:
        return False
    k = -ref.exp
    for i, j in zip(*np.nonzero(ref.wt[part] % (1 << k))):
        e = np.zeros(ref.wt[part].shape[1], dtype=np.int64)
        e[j] = 1
        if ref.out(part, e << k)[i] != ref.out(part, e)[i] << k:
            return True
    return False


def check(parts: list[np.ndarray], rng: np.random.Generator) -> str:
    """Compare snnc with Lava on one block; returns which case it was."""
    parts = [np.asarray(p, dtype=np.int64) for p in parts]
    got = netx_effective_parts(parts) if len(parts) > 1 else netx_effective(parts[0])
    opt = netx_optimize(np.hstack(parts))
    ref = lava(parts)
    what = f"W = {[p.tolist() for p in parts]}: snnc {got!r}"
    if isinstance(got, str):
        if isinstance(ref, Exception):
            return "lava-dl raises"
        if not ref.bits_in_range():
            return "lava-dl out of range"
        assert not isinstance(opt, str), what
        assert any(_not_per_synapse(ref, p) for p in range(len(parts))), f"{what}; Lava {ref}"
        return "not per synapse"
    assert not isinstance(ref, Exception), f"{what}; lava-dl raised {ref!r}"
    assert ref.bits_in_range(), f"{what}; lava-dl gives bits={ref.bits} exp={ref.exp} clipped={ref.clipped}"
    # netx_optimize is lava-dl's optimizer bit for bit
    assert not isinstance(opt, str), what
    np.testing.assert_array_equal(opt[0], ref.w_lava, err_msg=what)
    assert (opt[1], opt[2]) == (ref.bits, ref.exp), what
    # and the effective matrices are Lava's outputs, for every binary and some graded inputs
    got = [got] if len(parts) == 1 else got
    for p, m in enumerate(got):
        for s in _inputs(m.shape[1], rng):
            np.testing.assert_array_equal(m @ s, ref.out(p, s), err_msg=f"{what}, part {p}, input {s}")
    return "exact"


EDGE_VALUES = [-300, -257, -256, -255, -254, -200, -129, -128, -127, -65, -64, -63, -3, -2, -1,
               1, 2, 3, 63, 64, 65, 126, 127, 128, 129, 200, 254, 255, 256, 300]


def _edge_cases() -> list[np.ndarray]:
    pow2 = [1 << p for p in range(10)]
    cases = [np.array([[v]]) for v in range(-300, 301)]  # single values, all of them
    for v in EDGE_VALUES + pow2 + [-p for p in pow2]:
        cases += [np.array([[0, v]]), np.array([[v, v]]), np.array([[v], [0]]), np.array([[v, -v]])]
        cases += [np.array([[0, -1, v]]), np.array([[0, 1, v]]), np.array([[v, -128, -128, 0]])]
        cases += [np.array([[v, 2 * v, 0]]), np.array([[0, v], [v, 0]])]
    cases += [np.zeros((2, 3), dtype=np.int64), np.array([[0, -1, -128]]), np.array([[0, -2, -128]])]
    return cases


def _random_cases(rng: np.random.Generator, count: int) -> list[np.ndarray]:
    cases = []
    for _ in range(count):
        shape = (int(rng.integers(1, 4)), int(rng.integers(1, 5)))
        kind = rng.integers(0, 6)
        if kind == 0:  # mixed, anything
            w = rng.integers(-300, 301, shape)
        elif kind == 1:  # all ≤ 0, with zeros
            w = -rng.integers(0, 300, shape)
            w.flat[0] = 0
        elif kind == 2:  # all ≥ 0, with zeros
            w = rng.integers(0, 300, shape)
            w.flat[0] = 0
        elif kind == 3:  # strictly one sign
            w = rng.integers(1, 260, shape) * rng.choice([-1, 1])
        elif kind == 4:  # shared trailing zeros
            w = rng.integers(-8, 9, shape) << int(rng.integers(0, 8))
        else:  # a few distinct values, many zeros
            w = rng.choice([0, 0, 0, -128, -129, -64, 127, 254, 255, -256, 1, -1], shape)
        cases.append(w)
    return cases


def test_reviewed_examples_against_lava() -> None:
    """The two reported disagreements, with Lava's numbers computed by Lava."""
    ref = lava([np.array([[0, -129]])])
    assert ref.bits == 9 and np.array_equal(ref.out(0, [1, 0]), [0]) and np.array_equal(ref.out(0, [0, 1]), [0])
    # Lava's Dense calls it inhibitory, so its truncation shift 8 - bits is negative
    assert wu.determine_sign_mode(ref.w_lava) == wu.SignMode.INHIBITORY
    assert isinstance(netx_effective(np.array([[0, -129]])), str)

    ref = lava([np.array([[0, -128]])])
    lava_m = np.array([[ref.out(0, [1, 0])[0], ref.out(0, [0, 1])[0]]])
    assert lava_m.tolist() == [[0, -64]]
    np.testing.assert_array_equal(netx_effective(np.array([[0, -128]])), lava_m)


def test_sign_mode_boundary_is_lava_dls() -> None:
    """max == 0 is mixed to lava-dl (not inhibitory); max < 0 is inhibitory."""
    for w in ([[0, -100]], [[0, -3, -64]], [[-100, -1]], [[-100, 0], [0, -7]]):
        ref = lava([np.array(w)])
        opt = netx_optimize(np.array(w))
        if isinstance(opt, str):
            assert not ref.bits_in_range()
        else:
            np.testing.assert_array_equal(opt[0], ref.w_lava)
            assert (opt[1], opt[2]) == (ref.bits, ref.exp)


def test_edge_cases_match_lava() -> None:
    rng = np.random.default_rng(0)
    seen = {check([w], rng) for w in _edge_cases()}
    assert seen == {"exact", "lava-dl raises", "lava-dl out of range", "not per synapse"}


@pytest.mark.parametrize("seed", range(4))
def test_random_matrices_match_lava(seed: int) -> None:
    rng = np.random.default_rng(seed)
    seen = {check([w], rng) for w in _random_cases(rng, 600)}
    assert "exact" in seen and "lava-dl out of range" in seen


def test_recurrent_pairs_match_lava() -> None:
    """``dense_rec``: one optimizer run on ``[W | W_rec]``, each Dense its own sign mode."""
    rng = np.random.default_rng(7)
    a, b = _random_cases(rng, 400), _random_cases(rng, 400)
    seen = set()
    for w, r in zip(a, b):
        r = np.resize(r, (w.shape[0], r.shape[1]))
        seen.add(check([w, r], rng))
    for w, r in ([[0, -128]], [[5]]), ([[-1, -2]], [[0]]), ([[0, -129]], [[-1]]), ([[3, 0]], [[-64]]):
        seen.add(check([np.array(w), np.array(r)], rng))
    assert "exact" in seen
