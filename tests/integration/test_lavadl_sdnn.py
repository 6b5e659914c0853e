"""lava-dl's sigma-delta (SDNN) fixtures, from the files as shipped (``<repo>/../shared/lava-dl-fixtures/``).

lava-dl recorded these arrays from Lava (``tests/lava/lib/dl/netx/test_hdf5.py``,
``test_hdf5_nx.py``, ``test_blocks.py``); snnc reproduces them from the ``.net`` files (and, for
the single blocks, from the blocks lava-dl's test builds by hand) on its emulator:

* **PilotNet SDNN** (``network.net``: SDNN Input block, 4 conv, flatten, 3 dense SigmaDelta, a
  Sigma read-out): ``test_hdf5.py::test_pilotnet_sdnn`` feeds ``input.npy`` (one frame, replayed
  by its RingBuffer) into ``net.in_layer.neuron.a_in``, runs ``len(net.layers)`` = 9 steps and
  asserts the output equals ``output.npy`` exactly.  ``test_hdf5_nx.py::test_pilotnet_sdnn`` (the
  hardware set-up) builds ``Network(skip_layers=1)`` and sends ``act0.npy`` (the Input block's
  payloads) into the first conv synapse (16-bit graded) for ``len(net) + 1`` = 9 steps.
* **sigma states**: ``test_pilotnet_sdnn_square`` runs ``square_network.net`` with
  ``skip_layers=1`` on ``act0.npy[:33, :33]`` for 5 steps and asserts the sigma of blocks 0..3
  equals ``sigma{1..4}_square.npy[..., 4]``; ``sigma1.npy``/``sigma2.npy`` are the first two
  blocks' sigma over 20 steps of the full network (lava-dl's own check of ``sigma2`` is commented
  out).  snnc compares every recorded step.
* **tinynet_sdnn** (``test_blocks.py::TestSDNBlocks``): single blocks, as the test builds them:
  an Input block (Delta, vth 20) fed ``int(input_bias · sin(2πt/15))``; a Conv block
  (SigmaDelta, stride 2, the kernel in Lava's layout, a channel bias) run **one step** on
  ``input.npy``; a Dense block (Sigma) fed ``layer1.npy``.  A hand-built block's
  ``input_message_bits`` defaults to 0, so both synapses are **binary** although fed graded data
  (decision 0007: every non-zero payload counts as one spike, negatives included).

lava-dl's own ``hdf5.Network`` runs the same files in Lava under the ``lava`` marker
(:mod:`snnc.backends.lava.netx`), block by block and step by step against snnc.
"""

from __future__ import annotations

import time
from pathlib import Path

import h5py
import numpy as np
import pytest

import snnc
from snnc.backends.emulator import Observer
from snnc.backends.lava import lava_available
from snnc.backends.lava.netx import run_netx_many
from snnc.compiler.ir import arith, loihi
from snnc.compiler.ir.graph import Graph

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT.parent / "shared" / "lava-dl-fixtures"
PILOT = FIXTURES / "pilotnet_sdnn"
TINY = FIXTURES / "tinynet_sdnn"
#: snnc layer -> PilotNet SDNN block (layer5 is the flatten): sigma{k}.npy is block k's sigma
PILOT_BLOCKS = ["layer0", "layer1", "layer2", "layer3", "layer4", "layer6", "layer7", "layer8", "layer9"]
SQUARE_BLOCKS = ["layer1", "layer2", "layer3", "layer4"]


@pytest.fixture(scope="module")
def fixtures() -> Path:
    """The fixture folder; a clear failure (not a skip) when the checkout lacks it."""
    if not (PILOT / "network.net").is_file() or not (TINY / "layer1.npy").is_file():
        pytest.fail(f"lava-dl's fixtures are missing: expected {FIXTURES} (the repository's "
                    "../shared/lava-dl-fixtures, see its README) with pilotnet_sdnn/ and tinynet_sdnn/")
    return FIXTURES


def _chw(a: np.ndarray) -> np.ndarray:
    """lava-dl's (W, H, C[, T]) -> snnc's (C, H, W[, T]) with time first: (T, C, H, W)."""
    return a.transpose(3, 2, 1, 0) if a.ndim == 4 else a.transpose(2, 1, 0)


def _lava(a: np.ndarray, shape) -> np.ndarray:
    """One sample's (T, n) in snnc's C-order of ``shape`` as lava-dl's (W, H, C, T) / (n, T)."""
    t = a.shape[0]
    if len(shape) == 3:
        return a.reshape((t,) + tuple(shape)).transpose(3, 2, 1, 0)
    return a.reshape(t, -1).T


def _pilot_input(steps: int) -> np.ndarray:
    """input.npy (W, H, C, 1) replayed every step, as lava-dl's RingBuffer does: (1, T, C, H, W)."""
    frame = _chw(np.load(PILOT / "input.npy"))[0]
    return np.repeat(frame[None, None], steps, axis=1).astype(np.int32)


def _act0(steps: int, crop: int | None = None) -> np.ndarray:
    """act0.npy (W, H, C, 20) as (1, T, C, H, W), optionally cropped to [:crop, :crop] (W, H)."""
    a = np.load(PILOT / "act0.npy")
    if crop is not None:
        a = a[:crop, :crop]
    return _chw(a)[None, :steps].astype(np.int32)


def _first_difference(a, b) -> str:
    idx = tuple(int(i) for i in np.argwhere(a != b)[0])
    return f"{int(np.count_nonzero(a != b))} mismatches, first at {idx}: snnc {a[idx]!r}, fixture {b[idx]!r}"


class SigmaRecorder(Observer):
    """The emulator's observer hook: each sigma-delta population's ``sigma`` after every step
    (the state lava-dl's tests read with ``net.layers[i].neuron.sigma.get()``)."""

    def __init__(self, names):
        self.names, self.rec, self.lo = tuple(names), {n: {} for n in names}, 0

    def span(self, lo: int, hi: int) -> None:
        self.lo = lo

    def compartment(self, name, t, a_sum, a, step) -> None:
        if name in self.rec and isinstance(step, arith.SigmaDeltaStep):
            self.rec[name][(self.lo, t)] = np.array(step.state.sigma, dtype=np.int64)

    def sigma(self, name: str) -> np.ndarray:
        """(batch, steps, n)."""
        keys = sorted(self.rec[name])
        batch = max(k[0] for k in keys) + 1
        steps = max(k[1] for k in keys) + 1
        out = np.zeros((batch, steps, self.rec[name][keys[0]].shape[-1]), dtype=np.int64)
        for (lo, t), v in self.rec[name].items():
            out[lo: lo + v.shape[0], t] = v
        return out


def _run_sigmas(prog, x, names):
    """``prog.run(x)`` with every step's sigma of ``names``: (RunResult, {name: (batch, steps, n)})."""
    obs = SigmaRecorder(names)
    raw = prog.run(x, return_raw=True, observer=obs)
    return raw, {n: obs.sigma(n) for n in names}


# ------------------------------------------------------------------------------ reading
@pytest.fixture(scope="module")
def pilot(fixtures):
    return snnc.load(PILOT / "network.net")


def test_pilotnet_sdnn_is_read_as_lava_dl_builds_it(pilot):
    """hdf5.Network's get_neuron_params: the Input block is a Delta(vThMant, spike_exp 6,
    state_exp 6), every other layer a ReLU SigmaDelta with the file's vThMant and its bias
    astype(int32) per channel, the sigma_output layer a Sigma; messageBits 16 -> every synapse
    graded; the Input transform (64, 0) kept as metadata."""
    g = pilot.graph
    f = h5py.File(PILOT / "network.net", "r")
    kinds = [g[c].neuron for c in PILOT_BLOCKS]
    assert kinds == [loihi.DELTA] + [loihi.SIGMA_DELTA] * 7 + [loihi.SIGMA]
    for c in PILOT_BLOCKS[:-1]:
        node, group = g[c], f[f"layer/{c[5:]}"]
        assert (node.vth, node.spike_exp, node.state_exp, node.cum_error) == (
            int(group["neuron/vThMant"][()]), 6, 6, False), c
        if node.neuron == loihi.SIGMA_DELTA:
            assert node.activation == "relu"
            want = np.zeros(tuple(group["shape"][()])[::-1], np.float32)  # lava-dl's (W, H, C) broadcast
            want[...] = group["bias"][()]
            assert np.array_equal(np.asarray(node.bias).reshape(node.shape),
                                  _chw(want.astype(np.int32)) if want.ndim == 3 else want.astype(np.int32)), c
    assert g["layer0"].bias is None or not np.any(g["layer0"].bias)
    syns = g.of_kind(loihi.Synapse, loihi.ConvSynapse)
    assert len(syns) == 8 and all(g[s].num_message_bits == 16 for s in syns)
    assert g["input"].payload == "int32" and g.successors("input") == ["layer0"]
    assert g.meta["input_transform"] == {"weight": 64, "bias": 0}
    assert pilot.latency["layer9:out"] == 8 and pilot.input_shape == (3, 33, 100)


# ------------------------------------------------------------------------------ the recordings
def test_pilotnet_sdnn_output_equals_lava_dls_recording(pilot):
    """test_hdf5.py::test_pilotnet_sdnn: 9 steps, output.npy exactly (every step)."""
    gt = np.load(PILOT / "output.npy")  # (1, 9): the Sigma's sum at steps 0..8
    t0 = time.perf_counter()
    raw = pilot.run(_pilot_input(9), return_raw=True)
    seconds = time.perf_counter() - t0
    out = raw.payload["layer9"][0, :9].reshape(9, 1).T
    assert np.array_equal(out, gt), _first_difference(out, gt)
    assert np.count_nonzero(gt) == 8 and gt[0, -1] == -31026  # a recording worth comparing
    # the program's own output (aligned: latency 8) is the last recorded step, as int32
    y = pilot.run(_pilot_input(1))["layer9:out"]
    assert y.dtype == np.int32 and y.shape == (1, 1, 1) and int(y[0, 0, 0]) == int(gt[0, -1])
    assert seconds < 20, f"the PilotNet SDNN run took {seconds:.1f} s"


def test_pilotnet_sdnn_hardware_setup_skips_the_input_block(fixtures):
    """test_hdf5_nx.py::test_pilotnet_sdnn: Network(skip_layers=1) fed act0.npy (the Input
    block's payloads) straight into conv1's 16-bit graded synapse, len(net) + 1 = 9 steps."""
    prog = snnc.load(PILOT / "network.net", skip_layers=1)
    g = prog.graph
    assert "layer0" not in g.nodes and g["input"].payload == "int32"
    assert g.successors("input") == ["layer1:syn"] and g["layer1:syn"].num_message_bits == 16
    raw = prog.run(_act0(9), return_raw=True)
    out = raw.payload["layer9"][0, :9].reshape(9, 1).T
    gt = np.load(PILOT / "output.npy")
    assert np.array_equal(out, gt), _first_difference(out, gt)


def test_pilotnet_sdnn_sigma_states_equal_every_recorded_step(fixtures):
    """sigma1.npy / sigma2.npy: the first two conv blocks' sigma over all 20 steps of the full
    network driven by act0.npy (skip_layers=1; equivalently input.npy through the Delta)."""
    prog = snnc.load(PILOT / "network.net", skip_layers=1)
    _, sig = _run_sigmas(prog, _act0(20), ["layer1", "layer2"])
    for k, layer in ((1, "layer1"), (2, "layer2")):
        gt = np.load(PILOT / f"sigma{k}.npy")  # (W, H, C, 20)
        got = _lava(sig[layer][0, :20], prog.graph[layer].shape)
        assert np.array_equal(got, gt), f"sigma{k}: {_first_difference(got, gt)}"
        assert np.count_nonzero(gt[..., 5]) > 100
    # the Delta route gives the same states: act0 is the Delta's output for a static input.npy
    _, sig_d = _run_sigmas(snnc.load(PILOT / "network.net"), _pilot_input(20), ["layer2"])
    assert np.array_equal(sig_d["layer2"][0, :20], sig["layer2"][0, :20])


def test_square_network_sigmas_equal_lava_dls_hardware_test(fixtures):
    """test_hdf5_nx.py::test_pilotnet_sdnn_square: square_network.net, skip_layers=1,
    act0.npy[:33, :33], sigma of blocks 0..3 at step 4 -- and at every one of 20 steps."""
    prog = snnc.load(PILOT / "square_network.net", skip_layers=1)
    _, sig = _run_sigmas(prog, _act0(20, crop=33), SQUARE_BLOCKS)
    for k, layer in enumerate(SQUARE_BLOCKS, start=1):
        gt = np.load(PILOT / f"sigma{k}_square.npy")
        got = _lava(sig[layer][0, :20], prog.graph[layer].shape)
        assert np.array_equal(got[..., 4], gt[..., 4]), f"sigma{k}_square[..., 4]: {_first_difference(got, gt)}"
        assert np.array_equal(got, gt), f"sigma{k}_square: {_first_difference(got, gt)}"


# ------------------------------------------------------------------------------ tinynet_sdnn blocks
def _block_program(nodes: dict, edges: list, latency: dict) -> snnc.Program:
    from snnc.compiler.artifact import Artifact
    from snnc.compiler.discretize import Convention
    from snnc.compiler.targets import get_target

    g = Graph(nodes, edges)
    return snnc.Program.wrap(Artifact(g, Convention(), get_target("loihi2"), latency, []))


def test_tinynet_sdnn_input_block(fixtures):
    """test_blocks.py::test_input: Input(Delta, vth 20, spike_exp 6, state_exp 6) fed
    int(input_bias · sin(2πt/15)) for 15 steps."""
    bias = np.load(TINY / "input_bias.npy")  # (16, 16, 3)
    x = np.repeat(bias[..., None], 15, axis=3) * np.sin(2 * np.pi * np.arange(15) / 15)
    x = x.astype(int)
    shape = (3, 16, 16)
    prog = _block_program(
        {"input": loihi.SpikeSource(shape=shape, payload="int32"),
         "delta": loihi.SigmaDeltaCompartment(shape=shape, neuron=loihi.DELTA, vth=20, spike_exp=6, state_exp=6),
         "out": loihi.Probe(shape=shape)},
        [("input", "delta"), ("delta", "out")], {"out": 0})
    raw = prog.run(_chw(x)[None].astype(np.int32), return_raw=True)
    got = _lava(raw.payload["delta"][0].reshape(15, -1), shape)
    gt = np.load(TINY / "input.npy")
    assert np.array_equal(got, gt), _first_difference(got, gt)
    assert np.count_nonzero(gt) > 100 and gt.min() < 0  # signed graded payloads


def test_tinynet_sdnn_conv_block_one_step(fixtures):
    """test_blocks.py::test_conv: Conv(SigmaDelta vth 20, stride 2, channel bias) built by hand:
    a binary synapse (input_message_bits 0) fed input.npy, run ONE step (lava-dl's sink keeps
    16 steps, the rest zero): step 0 is the bias response relu(bias << 12) >> 6 where it reaches
    vth << 12, the synapse delivering nothing yet."""
    kernel = np.load(TINY / "layer1_kernel.npy")  # Lava's (C', kX, kY, C): applied as Lava applies it
    weights = kernel.transpose(0, 3, 2, 1)[:, :, ::-1, ::-1]  # snnc (C', C, kH, kW), cross-correlation
    bias = np.load(TINY / "layer1_bias.npy").astype(np.int32)
    data = np.load(TINY / "input.npy")  # (16, 16, 3, 15) graded
    conv = loihi.ConvSynapse(weights=np.ascontiguousarray(weights).astype(np.int64), in_shape=(3, 16, 16),
                             stride=(2, 2), num_message_bits=0)
    out_shape = tuple(conv.out_shape)
    assert out_shape == (24, 6, 6)
    sd_bias = np.broadcast_to(bias.reshape(-1, 1, 1), out_shape).reshape(-1).astype(np.int64)
    prog = _block_program(
        {"input": loihi.SpikeSource(shape=(3, 16, 16)), "conv": conv,
         "sd": loihi.SigmaDeltaCompartment(shape=out_shape, neuron=loihi.SIGMA_DELTA, vth=20, bias=sd_bias,
                                           spike_exp=6, state_exp=6),
         "out": loihi.Probe(shape=out_shape)},
        [("input", "conv"), ("conv", "sd"), ("sd", "out")], {"out": 1})
    spikes = (_chw(data) != 0).astype(np.uint8)[None]  # a binary synapse sees payload != 0
    raw = prog.run(spikes[:, :1], return_raw=True)  # one step of input, the run's first raw step kept
    got = np.zeros((6, 6, 24, 16), dtype=np.int64)
    got[..., :1] = _lava(raw.payload["sd"][0, :1].reshape(1, -1), out_shape)
    gt = np.load(TINY / "layer1.npy")
    assert np.array_equal(got, gt), _first_difference(got, gt)
    assert np.count_nonzero(gt[..., 0]) > 0 and not np.any(gt[..., 1:])


def test_tinynet_sdnn_dense_block_binary_synapse(fixtures):
    """test_blocks.py::test_dense: Dense(Sigma) with layer2_weight given raw (8 bits, exponent 0,
    MIXED: odd weights lose their LSB), fed layer1.npy reshaped to (864, 16) through a binary
    synapse: every non-zero payload is one spike."""
    w = np.load(TINY / "layer2_weight.npy")  # (100, 864)
    data = np.load(TINY / "layer1.npy").reshape(-1, 16)  # (864, 16), lava-dl's (W, H, C) flattening
    syn = loihi.Synapse(weights=w.astype(np.int64), weight_exp=0, num_weight_bits=8, num_message_bits=0)
    prog = _block_program(
        {"input": loihi.SpikeSource(shape=(864,)), "dense": syn,
         "sigma": loihi.SigmaDeltaCompartment(shape=(100,), neuron=loihi.SIGMA),
         "out": loihi.Probe(shape=(100,))},
        [("input", "dense"), ("dense", "sigma"), ("sigma", "out")], {"out": 1})
    raw = prog.run((data.T != 0).astype(np.uint8)[None], return_raw=True)
    got = raw.payload["sigma"][0, :16].T
    gt = np.load(TINY / "layer2.npy")
    assert np.array_equal(got, gt), _first_difference(got, gt)
    assert np.count_nonzero(gt) > 50


# ------------------------------------------------------------------------------ lava-dl in Lava
@pytest.mark.lava
@pytest.mark.skipif(not lava_available(), reason="lava-nc is not installed")
def test_pilotnet_sdnn_equals_lava_dls_network_in_lava(fixtures):
    """lava-dl's hdf5.Network in Lava on the shipped files against snnc's emulator: every block's
    graded payloads at every step (a_in route, 9 steps) and the square network's sigma states
    (skip_layers=1, act0 crop, 5 steps)."""
    full = snnc.load(PILOT / "network.net")
    square = snnc.load(PILOT / "square_network.net", skip_layers=1)
    x_full, x_sq = _pilot_input(9), _act0(5, crop=33)
    raw_full = full.run(x_full, return_raw=True)
    raw_sq, sig_sq = _run_sigmas(square, x_sq, SQUARE_BLOCKS)
    lava_full, lava_sq = run_netx_many([
        (PILOT / "network.net", x_full, 9, {"input": "a_in", "values": True}),
        (PILOT / "square_network.net", x_sq, 5, {"skip_layers": 1, "values": True, "states": ["sigma"]}),
    ], timeout=900)
    assert len(lava_full) == len(PILOT_BLOCKS)
    for layer, block in zip(PILOT_BLOCKS, lava_full):
        ours = raw_full.payload[layer][:, :9].reshape(block.shape)
        assert np.array_equal(ours, block), f"{layer}: {_first_difference(ours, block)}"
    assert np.array_equal(lava_full[-1][0, :, 0], np.load(PILOT / "output.npy")[0])
    for layer, block in zip(SQUARE_BLOCKS, lava_sq):
        ours = sig_sq[layer][:, :5].reshape(block["sigma"].shape)
        assert np.array_equal(ours, block["sigma"]), f"{layer} sigma: {_first_difference(ours, block['sigma'])}"
        ours_s = raw_sq.payload[layer][:, :5].reshape(block["s"].shape)
        assert np.array_equal(ours_s, block["s"]), f"{layer}: {_first_difference(ours_s, block['s'])}"


@pytest.mark.lava
@pytest.mark.skipif(not lava_available(), reason="lava-nc is not installed")
def test_snnc_lava_backend_runs_the_read_program_to_lava_dls_output(pilot):
    """The program read from network.net, built by snnc's own Lava backend (Delta/SigmaDelta/
    Sigma processes, graded Dense/Conv): every layer's payloads equal the emulator's and the
    output equals output.npy."""
    x = _pilot_input(1)
    raw = pilot.run(x, backend="lava", return_raw=True)
    emu = pilot.run(x, return_raw=True)
    assert raw.steps == emu.steps == 9
    for layer in PILOT_BLOCKS:
        assert np.array_equal(raw.payload[layer], emu.payload[layer]), layer
    assert np.array_equal(raw.payload["layer9"][0, :, 0], np.load(PILOT / "output.npy")[0])


@pytest.mark.lava
@pytest.mark.slow
@pytest.mark.skipif(not lava_available(), reason="lava-nc is not installed")
def test_snnc_lava_backend_runs_the_hardware_setup(fixtures):
    prog = snnc.load(PILOT / "network.net", skip_layers=1)
    raw = prog.run(_act0(1), backend="lava", return_raw=True)
    assert np.array_equal(raw.payload["layer9"][0, :, 0], np.load(PILOT / "output.npy")[0])
