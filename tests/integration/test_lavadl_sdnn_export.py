"""netx export of sigma-delta programs: PilotNet SDNN read from lava-dl's file, written back by
snnc (:mod:`snnc.backends.netx`), read again by snnc and run by lava-dl's own ``hdf5.Network``
in Lava (``lava`` marker) gives the recorded ``output.npy``; what netx cannot say is refused."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import h5py
import numpy as np
import pytest
import sdnn_files as R  # tests/helpers

import snnc
from snnc.backends.lava import lava_available
from snnc.backends.lava.netx import run_netx_many
from snnc.compiler.ir import loihi
from snnc.errors import BackendError

ROOT = Path(__file__).resolve().parents[2]
PILOT = ROOT.parent / "shared" / "lava-dl-fixtures" / "pilotnet_sdnn"


def _input(steps: int) -> np.ndarray:
    frame = np.load(PILOT / "input.npy")[..., 0].transpose(2, 1, 0)  # (W, H, C) -> (C, H, W)
    return np.repeat(frame[None, None], steps, axis=1).astype(np.int32)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    if not (PILOT / "network.net").is_file():
        pytest.fail(f"lava-dl's fixtures are missing: expected {PILOT} (see ../shared/lava-dl-fixtures/README.md)")
    prog = snnc.load(PILOT / "network.net")
    path = tmp_path_factory.mktemp("sdnn") / "pilotnet_sdnn.net"
    prog.export_netx(path)
    return prog, path


def test_pilotnet_sdnn_round_trip_reads_back_the_same_program(exported):
    prog, path = exported
    back = snnc.load(path)
    g, h = prog.graph, back.graph
    pops = g.of_kind(loihi.SigmaDeltaCompartment)
    assert pops == h.of_kind(loihi.SigmaDeltaCompartment) and len(pops) == 9
    for c in pops:
        a, b = g[c], h[c]
        assert (a.neuron, a.vth, a.spike_exp, a.state_exp, a.shape) == (b.neuron, b.vth, b.spike_exp, b.state_exp,
                                                                        b.shape), c
        assert np.array_equal(np.asarray(a.bias if a.bias is not None else 0),
                              np.asarray(b.bias if b.bias is not None else 0)), c
    for s in g.of_kind(loihi.Synapse, loihi.ConvSynapse):
        assert h[s].num_message_bits == g[s].num_message_bits == 16
        wa = g[s].weights if isinstance(g[s], loihi.ConvSynapse) else g[s].dense_weights() * 2.0 ** g[s].weight_exp
        wb = h[s].weights if isinstance(h[s], loihi.ConvSynapse) else h[s].dense_weights() * 2.0 ** h[s].weight_exp
        assert np.array_equal(wa, wb), s
    assert h.meta["input_transform"] == {"weight": 64, "bias": 0}
    with h5py.File(path, "r") as f:  # slayer's layout: channel biases, no messageBits (lava-dl cannot read it)
        assert f["layer/1/bias"].shape == (24,) and "messageBits" not in f["layer/1/neuron"]
        assert "sigma_output" in f["layer/9/neuron"] and f["layer/5/type"][0] == b"flatten"
    gt = np.load(PILOT / "output.npy")
    raw = back.run(_input(9), return_raw=True)
    assert np.array_equal(raw.payload["layer9"][0, :9, 0], gt[0])


@pytest.mark.lava
@pytest.mark.skipif(not lava_available(), reason="lava-nc is not installed")
def test_lava_dls_network_runs_the_exported_file_to_the_recorded_output(exported):
    _, path = exported
    blocks = run_netx_many([(path, _input(9), 9, {"input": "a_in", "values": True})], timeout=600)[0]
    assert len(blocks) == 9
    np.testing.assert_array_equal(blocks[-1][0, :, 0], np.load(PILOT / "output.npy")[0])


def test_what_netx_cannot_say_is_refused(exported, tmp_path):
    prog, _ = exported
    g = prog.graph
    cases = {
        "spike_exp": ("layer3", dataclasses.replace(g["layer3"], spike_exp=4), "spike_exp = 4"),
        "message_bits": ("layer3:syn", dataclasses.replace(g["layer3:syn"], num_message_bits=8),
                         "num_message_bits 8"),
        "cum_error": ("layer3", dataclasses.replace(g["layer3"], cum_error=True), "cum_error"),
        "unit": ("layer3", dataclasses.replace(g["layer3"], activation="unit"), "activation 'unit'"),
    }
    for case, (node, new, words) in cases.items():
        nodes = dict(g.nodes)
        nodes[node] = new
        bad = snnc.Program.wrap(type(prog)(type(g)(nodes, list(g.edges), meta=dict(g.meta)), prog.convention,
                                           prog.target, prog.latency, prog.layers))
        with pytest.raises(BackendError, match=words) as e:
            bad.export_netx(tmp_path / f"{case}.net")
        assert e.value.hint, case
        assert not (tmp_path / f"{case}.net").exists()


def test_neuron_wise_conv_bias_and_dense_after_the_input_block_round_trip(tmp_path):
    """An SDNN file with a per-neuron conv bias ((W, H, C) in the file) and a dense layer reading
    the Input block through a flatten: exported by snnc, read back to the same registers."""
    path, _, x, steps = R.files(tmp_path)["e"]
    prog = snnc.load(path)
    out = tmp_path / "e_back.net"
    prog.export_netx(out)
    back = snnc.load(out)
    with h5py.File(out, "r") as f:
        assert f["layer/1/bias"].shape == (4, 3, 3)  # not per channel: neuron-wise, lava-dl's (W, H, C)
    assert np.array_equal(back.graph["layer1"].bias, prog.graph["layer1"].bias)
    a, b = prog.run(x, return_raw=True), back.run(x, return_raw=True)
    assert all(np.array_equal(a.payload[k], b.payload[k]) for k in a.payload) and np.any(a.payload["layer3"])
    flat = [{"type": "input", "shape": np.array([2, 3, 3]), "neuron": dict(R.SD, vThMant=0)}, {"type": "flatten"},
            R.sigma_out(1, 2, 18)]
    p2 = R.write_netx(tmp_path / "flat.net", flat)
    back2 = tmp_path / "flat_back.net"
    snnc.load(p2).export_netx(back2)
    with h5py.File(back2, "r") as f:
        assert [f[f"layer/{i}/type"][0] for i in range(3)] == [b"input", b"flatten", b"dense"]
