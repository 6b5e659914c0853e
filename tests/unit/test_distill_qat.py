"""The QAT student's training-time forward equals its deployed program on the emulator, bit
for bit: every hidden layer's spikes and the read-out's decoded values."""

import dataclasses

import numpy as np
import pytest
import torch

from snnc.backends import emulator
from snnc.compiler.ir import loihi
from snnc.compiler.ir.graph import Graph
from snnc.distill import compile_student, conv_student, dense_student, write_nir
from snnc.distill.integer import IntegerLayer
from snnc.distill.student import OUTPUTS


def _hidden_spikes(student, x):
    rec = {}
    hooks = [m.register_forward_hook(lambda mod, i, o, n=n: rec.__setitem__(n, o.detach()))
             for n, m in student.spiking_layers()]
    out = student(x)
    for h in hooks:
        h.remove()
    return out, rec


def _amplify(student, factor=3.0):
    with torch.no_grad():
        for m in student.modules():
            if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)):
                m.weight.mul_(factor)


def _check_equal(student, x):
    prog = compile_student(student)
    student.quantize()
    out, rec = _hidden_spikes(student, x)
    xs = x.numpy().astype(np.uint8)
    raw = prog.run(xs, return_raw=True)
    t = x.shape[1]
    for name, s in rec.items():
        pop = name.split(".", 1)[1]
        k = prog.graph[pop].start_step
        chip = raw.spikes[pop][:, k : k + t].reshape(s.shape[0], t, -1)
        np.testing.assert_array_equal(chip, s.reshape(s.shape[0], t, -1).numpy().astype(chip.dtype))
        assert chip.sum() > 0, f"{pop} is silent: the comparison would be vacuous"
    y = prog.run(xs)
    mine = student.out.chip_trace if hasattr(student.out, "chip_trace") else None
    if mine is not None:
        np.testing.assert_array_equal(y, mine.numpy())
    else:
        np.testing.assert_array_equal(y, out.trace.detach().numpy().astype(np.uint8))
    return out


@pytest.mark.parametrize("output", OUTPUTS)
def test_dense_qat_equals_emulator(output):
    torch.manual_seed(1)
    st = dense_student([24, 32, 16, 6], output=output)
    _amplify(st)
    x = (torch.rand(5, 10, 24) < 0.3).float()
    out = _check_equal(st, x)
    # QAT still trains: the straight-through gradient reaches the first layer's weights
    out.logits.sum().backward()
    assert st.body.fc1.synapse.weight.grad.abs().sum() > 0


def test_conv_qat_equals_emulator():
    torch.manual_seed(2)
    st = conv_student((2, 8, 8), [4], 16, 5)
    _amplify(st, 2.0)
    x = (torch.rand(3, 6, 2, 8, 8) < 0.4).float()
    _check_equal(st, x)


def test_qat_differs_from_float_only_by_quantization():
    torch.manual_seed(3)
    st = dense_student([24, 32, 16, 6])
    x = (torch.rand(8, 10, 24) < 0.3).float()
    st.set_qat(False)
    f = st(x).logits.detach()
    st.quantize()
    q = st(x).logits.detach()
    assert not torch.equal(f, q)  # the QAT forward is the chip's, not the float model's
    assert torch.allclose(f, q, atol=0.25 * float(f.abs().max()) + 1e-3)


def test_exported_nir_compiles_from_file(tmp_path):
    st = dense_student([12, 8, 8, 3])
    write_nir(st, tmp_path / "s.nir")
    import snnc

    prog = snnc.compile(str(tmp_path / "s.nir"), target="loihi2")
    assert [r["kind"] for r in prog.layers] == ["CubaLIF", "CubaLIF", "I"]


def test_to_nir_probes_on_the_students_device(monkeypatch):
    # fit moves the student to CUDA when present; the shape probe must follow its parameters.
    # ``meta`` stands in for CUDA (a CPU probe tensor fails the same way); _np can't read meta.
    from snnc.distill import export

    st = conv_student((1, 8, 8), [2], 6, 2).to("meta")
    monkeypatch.setattr(export, "_np", lambda t: np.zeros(tuple(t.shape)))
    graph = export.to_nir(st)
    assert "conv1" in graph.nodes and "out" in graph.nodes


def test_qat_forward_starts_from_the_compiled_initial_state():
    """Non-zero u_init/v_init in a layer's registers are the QAT forward's first state, as on the
    chip (the forward once started every layer from zeros)."""
    torch.manual_seed(5)
    st = dense_student([24, 32, 16, 6])
    _amplify(st)
    prog = compile_student(st)
    st.quantize()
    rng = np.random.default_rng(5)
    nodes = dict(prog.graph.nodes)
    for name, m in st.spiking_layers():
        pop = name.split(".", 1)[1]
        comp = nodes[pop]
        vth64 = int(comp.vth) << 6
        nodes[pop] = comp = dataclasses.replace(
            comp, u_init=rng.integers(-vth64 // 4, vth64 // 4, comp.size),
            v_init=rng.integers(0, vth64, comp.size))
        syn = next(p for p in prog.graph.predecessors(pop) if isinstance(nodes[p], loihi.Synapse))
        m.integer = IntegerLayer.from_blocks(pop, comp, nodes[syn])
    graph = Graph(nodes, prog.graph.edges)
    x = (torch.rand(4, 8, 24) < 0.3).float()
    _, rec = _hidden_spikes(st, x)
    raw = emulator.run(graph, x.numpy().astype(np.uint8), 8 + max(prog.latency.values()))
    t = x.shape[1]
    for name, s in rec.items():
        pop = name.split(".", 1)[1]
        k = graph[pop].start_step
        chip = raw.spikes[pop][:, k : k + t].reshape(s.shape[0], t, -1)
        np.testing.assert_array_equal(chip, s.reshape(s.shape[0], t, -1).numpy().astype(chip.dtype))
