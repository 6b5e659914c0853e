"""The emulator's torch engine (snnc/backends/emulator/torch_engine.py) on the CPU.

It must equal the numpy engine spike for spike and v for v (the numpy engine is checked
against Lava by tests/property/test_lava_differential.py) on random programs of every kind
the differential generators draw (dense, sparse, delays, conv, recurrence, wraps), and
``device="cuda"`` without a GPU must be a clear BackendUnavailableError.
"""

from __future__ import annotations

import lava_programs  # tests/helpers: the Lava differential test's random programs
import numpy as np
import pytest
import torch
from emulator_runs import assert_same_run as assert_same  # tests/helpers
from hypothesis import HealthCheck, given, settings

from snnc.backends import emulator
from snnc.compiler.ir import loihi
from snnc.compiler.ir.graph import Graph
from snnc.errors import BackendUnavailableError, InputError


@pytest.mark.parametrize("kind", list(lava_programs.KINDS))
def test_torch_cpu_equals_numpy_on_random_programs(kind):
    @settings(max_examples=25, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(case=lava_programs.programs(kind))
    def prop(case):
        graph, x, steps = case
        assert_same(emulator.run(graph, x, steps, device="cpu"), emulator.run(graph, x, steps))

    prop()


def test_cuda_without_a_gpu_is_a_clear_error():
    graph = Graph({"in": loihi.SpikeSource((3,)), "s": loihi.Synapse(np.full((2, 3), 40)),
                   "c": loihi.Compartment((2,), du=0, dv=0, vth=1, bias_mant=np.zeros(2))},
                  [("in", "s"), ("s", "c")])
    x, steps = np.ones((2, 4, 3), bool), 6
    if torch.cuda.is_available():  # a GPU machine: the same arithmetic must hold there too
        assert_same(emulator.run(graph, x, steps, device="cuda"), emulator.run(graph, x, steps))
        return
    with pytest.raises(BackendUnavailableError, match="CUDA") as e:
        emulator.run(graph, x, steps, device="cuda")
    assert "device=None" in e.value.hint
    with pytest.raises(InputError, match="unknown device"):
        emulator.run(graph, x, steps, device="tpu-42")
