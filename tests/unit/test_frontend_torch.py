"""snnc.load(module, example_input): snnTorch and Norse modules through their NIR exporters, the
exporter presets (snnc.compiler.conventions) and the Norse 1.1.0 tau = dt/tau_inv detection."""

from __future__ import annotations

import logging

import nir
import norse.torch as norse
import numpy as np
import pytest
import torch
from snntorch_nets import BATCH, STEPS, LifMLP, run_snntorch  # tests/helpers

import snnc
from snnc.compiler.ir import ops
from snnc.errors import FrontendError, ValidationError
from snnc.compiler.conventions import PRESETS, exporter_quirks, preset
from snnc.frontends.torch import framework_of

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _simulate(g, x, conv):
    return snnc.simulate(g, x, dt=conv.dt, integration=conv.integration, spike_if=conv.spike_if,
                         synapse_input=conv.synapse_input)


def test_snntorch_module_loads_and_matches_snntorch():
    torch.manual_seed(3)
    net = LifMLP()
    x = (torch.rand(BATCH, STEPS, 12) < 0.3).float()
    g = snnc.load(net, x[:, 0])
    assert framework_of(net) == "snntorch" and g.of_kind(ops.LIF)
    y = _simulate(g, x.numpy(), preset("snntorch"))
    want = run_snntorch(net, x)[-1]
    assert want.sum() > 0
    np.testing.assert_array_equal(np.asarray(y, dtype=np.float64), want)


def _norse_net(n_in=5, n_out=4, seed=0, cell="box"):
    torch.manual_seed(seed)
    lin = torch.nn.Linear(n_in, n_out, bias=False)
    with torch.no_grad():
        lin.weight.uniform_(0.0, 3.0)
    # per-neuron parameters: Norse's defaults are 0-d tensors, which nir.write cannot store
    common = dict(tau_mem_inv=torch.linspace(80.0, 150.0, n_out), v_th=torch.ones(n_out),
                  v_leak=torch.zeros(n_out), v_reset=torch.zeros(n_out))
    if cell == "box":  # LIF without synaptic current -> NIR LIF
        return norse.SequentialState(lin, norse.LIFBoxCell(p=norse.LIFBoxParameters(**common)))
    p = norse.LIFParameters(tau_syn_inv=torch.linspace(150.0, 250.0, n_out), **common)
    return norse.SequentialState(lin, norse.LIFCell(p=p))  # current-based -> NIR CubaLIF (jump)


def _run_norse(net, x):
    state, out = None, []
    with torch.no_grad():
        for t in range(x.shape[1]):
            z, state = net(x[:, t], state)
            out.append(z)
    return torch.stack(out, 1).numpy()


@pytest.mark.parametrize("cell", ["box", "cuba"])
def test_norse_module_and_file_match_norse_under_its_preset(tmp_path, cell):
    net = _norse_net(cell=cell)
    x = (torch.rand(3, 60, 5) < 0.4).float()
    g = snnc.load(net, x[:, 0])
    assert framework_of(net) == "norse" and g.of_kind(ops.CubaLIF if cell == "cuba" else ops.LIF)
    want = _run_norse(net, x)
    assert want.sum() > 0
    np.testing.assert_array_equal(np.asarray(_simulate(g, x.numpy(), preset("norse"))), want)
    # the same graph written by Norse's exporter to a .nir file
    nir.write(tmp_path / "norse.nir", norse.to_nir(net, x[0, 0]))
    from_file = snnc.load(tmp_path / "norse.nir")
    np.testing.assert_array_equal(np.asarray(_simulate(from_file, x.numpy(), preset("norse"))), want)


def test_norse_tau_bug_is_detected_with_a_warning(caplog):
    net = _norse_net()
    g = snnc.load(net, torch.zeros(1, 5))
    with caplog.at_level(logging.WARNING):
        notes = exporter_quirks(g, preset("norse", export_dt=None).__class__(dt=1e-3))
    assert any("Norse 1.1.0" in m for msgs in notes.values() for m in msgs)
    assert "norse #411" in caplog.text
    # compiling at Norse's own dt: the unstable-Euler error, after the warning
    caplog.clear()
    with caplog.at_level(logging.WARNING), pytest.raises(ValidationError, match="unstable"):
        snnc.compile(g, dt=1e-3)
    assert "Norse" in caplog.text
    prog = snnc.compile(g, convention="norse")  # the preset compiles
    assert prog.convention.dt == pytest.approx(1e-6) and prog.convention.synapse_input == "jump"
    assert not exporter_quirks(g, prog.convention)


def test_snntorch_dt_mismatch_is_noted():
    torch.manual_seed(0)
    import snntorch as snn

    net = torch.nn.Sequential(torch.nn.Linear(3, 2), snn.Synaptic(alpha=torch.full((2,), 0.8),
                                                                beta=torch.full((2,), 0.9),
                                                                threshold=torch.ones(2), init_hidden=True))
    g = snnc.load(net, torch.zeros(1, 3))
    assert not exporter_quirks(g, preset("snntorch"))
    notes = exporter_quirks(g, preset("snntorch", export_dt=1e-3))
    assert any("--dt 0.0001" in m for msgs in notes.values() for m in msgs)


def test_presets_and_errors():
    assert set(PRESETS) == {"snntorch", "norse", "sinabs", "rockpool"}
    assert preset("norse", export_dt=1e-2).dt == pytest.approx(1e-4)
    assert preset("sinabs").spike_if == ">=" and preset("sinabs").integration == "exact"
    with pytest.raises(ValidationError, match="unknown exporter preset") as e:
        preset("brian")
    assert e.value.hint
    with pytest.raises(FrontendError, match="no spiking neurons") as e:
        snnc.load(torch.nn.Linear(3, 2), torch.zeros(1, 3))
    assert "onnx" in e.value.hint.lower()
    with pytest.raises(FrontendError, match="example_input"):
        snnc.load(LifMLP())


def test_distillation_student_loads_like_its_own_exporter():
    from snnc.distill.export import to_nir
    from snnc.distill.student import dense_student

    torch.manual_seed(0)
    student = dense_student([6, 8, 3])
    g = snnc.load(student)  # snnc's own students need no example input
    assert framework_of(student) == "snnc"
    want = snnc.load(to_nir(student))
    assert sorted(g.nodes) == sorted(want.nodes) and g.of_kind(ops.CubaLIF)
    x = (np.random.default_rng(0).random((2, 12, 6)) < 0.4).astype(np.uint8)
    conv = preset("snntorch")
    a, b = _simulate(g, x, conv), _simulate(want, x, conv)
    for k in (a if isinstance(a, dict) else {"y": a}):
        np.testing.assert_array_equal(np.asarray(a[k] if isinstance(a, dict) else a),
                                      np.asarray(b[k] if isinstance(b, dict) else b))
