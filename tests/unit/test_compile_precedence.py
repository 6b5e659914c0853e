"""An explicit discretization keyword always overrides an exporter preset, in the API
(``snnc.compile(g, convention=..., reset=...)``) exactly as a flag overrides ``--from`` in the CLI
(issue 13: ``convention="snntorch", reset="subtract"`` used to compile silently with reset=value)."""

from __future__ import annotations

import dataclasses

import nir
import numpy as np
import pytest

import snnc
from snnc.cli import main
from snnc.compiler.conventions import preset
from snnc.compiler.discretize import Convention
from snnc.compiler.ir import ops
from snnc.compiler.ir.printer import format_graph
from snnc.driver import _convention


def fingerprint(graph) -> tuple:
    """The printed graph and every integer array of it (equal programs, equal fingerprints)."""
    arrays = []
    for name in sorted(graph.nodes):
        for f in getattr(graph[name], "array_fields", ()):
            a = getattr(graph[name], f)
            arrays.append((name, f, None if a is None else np.asarray(a.toarray() if hasattr(a, "toarray") else a).tobytes()))
    return format_graph(graph), arrays


def _lif_graph(path):
    rng = np.random.default_rng(3)
    g = nir.NIRGraph.from_list(
        nir.Linear(weight=rng.normal(0.3, 0.8, (7, 5))),
        nir.LIF(tau=np.full(7, 1e-3), r=np.full(7, 10.0), v_leak=np.zeros(7), v_threshold=np.ones(7)),
    )
    nir.write(path, g)
    return path


def _rebuilt(prog) -> bool:
    return any("reset by subtraction rebuilt" in n for r in prog.layers for n in r["notes"])


def test_keyword_overrides_the_preset(tmp_path):
    model = _lif_graph(tmp_path / "m.nir")
    plain = snnc.compile(model, convention="snntorch")
    assert not _rebuilt(plain)
    sub = snnc.compile(model, convention="snntorch", reset="subtract")
    assert _rebuilt(sub)  # the keyword was not dropped
    want = snnc.compile(model, convention=dataclasses.replace(preset("snntorch"), reset="subtract"))
    assert fingerprint(sub.graph) == fingerprint(want.graph)
    assert sub.graph.of_kind(ops.Output) == want.graph.of_kind(ops.Output)
    # every other field too, over a preset name and over a Convention object
    assert snnc.compile(model, convention="sinabs", dt=0.5, reset="value").convention.dt == 0.5
    conv = _convention(Convention(dt=2e-4), spike_if=">=", dt=None)
    assert (conv.dt, conv.spike_if) == (2e-4, ">=")


@pytest.mark.parametrize("given", [{}, {"reset": "subtract"}, {"dt": 1e-3, "integration": "exact"},
                                   {"spike_if": ">=", "synapse_input": "jump"}])
def test_api_and_cli_agree(given):
    from snnc.cli import _parser
    from snnc.compiler.conventions import apply_preset

    flags = []
    for k, v in given.items():
        flags += [f"--{k.replace('_', '-')}", str(v)]
    a = _parser().parse_args(["compile", "m.nir", "--from", "snntorch", *flags])
    apply_preset(a, a.exporter)
    cli = Convention(dt=a.dt, integration=a.integration, spike_if=a.spike_if,
                     synapse_input=a.synapse_input, reset=a.reset)
    assert _convention("snntorch", **given) == cli


def test_cli_program_equals_api_program(tmp_path):
    model = _lif_graph(tmp_path / "m.nir")
    assert main(["compile", str(model), "--from", "snntorch", "--reset", "subtract", "-o", str(tmp_path / "p")]) == 0
    cli = snnc.Program.load(tmp_path / "p")
    api = snnc.compile(model, convention="snntorch", reset="subtract")
    assert _rebuilt(cli) and fingerprint(cli.graph) == fingerprint(api.graph)
