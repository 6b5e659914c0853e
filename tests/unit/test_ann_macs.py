"""MACs of a torch-exported ONNX teacher (and of the torch module itself) equal hand counts."""

from __future__ import annotations

import io
import warnings

import numpy as np
import onnx
import pytest
import torch

import snnc
from snnc.errors import FrontendError, InputError
from snnc.profiler import onnx_macs, torch_macs
from snnc.profiler.ann import AC_FP32_PJ, MAC_FP32_PJ

nn = torch.nn


class Teacher(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)  # out 8x10x10
        self.conv2 = nn.Conv2d(8, 4, 3, stride=2, groups=2)  # out 4x4x4
        self.up = nn.ConvTranspose2d(4, 2, 2, stride=2)  # in 4x4x4 -> out 2x8x8
        self.fc1 = nn.Linear(128, 10)  # Gemm
        self.w = nn.Parameter(torch.randn(10, 7))  # MatMul

    def forward(self, x):
        h = torch.relu(self.conv1(x))
        h = torch.relu(self.conv2(h))
        h = torch.relu(self.up(h)).flatten(1)
        return torch.relu(self.fc1(h)) @ self.w


HAND = {
    "conv1": 8 * 10 * 10 * 3 * 3 * 3,  # out positions x C_in x kernel
    "conv2": 4 * 4 * 4 * (8 // 2) * 3 * 3,  # groups=2: C_in/groups
    "up": 4 * 4 * 4 * 2 * 2 * 2,  # transposed: in positions x C_out x kernel
    "fc1": 128 * 10,
    "matmul": 10 * 7,
}


@pytest.mark.parametrize("dynamo, batch", [(False, 1), (False, 4), (True, 4)],
                         ids=["torchscript-dynamic-batch", "torchscript-batch4", "dynamo-batch4"])
def test_onnx_macs_equal_hand_counts(dynamo, batch):
    torch.manual_seed(0)
    m = Teacher().eval()
    f = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kw = {} if dynamo else {"dynamic_axes": {"x": {0: "batch"}}}
        torch.onnx.export(m, (torch.randn(batch, 3, 10, 10),), f, dynamo=dynamo, input_names=["x"], **kw)
    mc = onnx_macs(onnx.load_from_string(f.getvalue()))
    assert mc.macs == sum(HAND.values())
    assert sorted(mc.per_node.values()) == sorted(HAND.values())


def test_torch_hooks_equal_hand_counts():
    m = Teacher().eval()
    mc = torch_macs(m, np.random.default_rng(0).normal(size=(5, 3, 10, 10)))
    assert mc.per_node == {k: v for k, v in HAND.items() if k != "matmul"}  # a bare @ has no module


def test_onnx_file_errors(tmp_path):
    with pytest.raises(FrontendError, match="no such ONNX file"):
        onnx_macs(tmp_path / "missing.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a protobuf")
    with pytest.raises(FrontendError, match="cannot read"):
        onnx_macs(bad)


def test_profile_reports_teacher_proxy_side_by_side(tmp_path):
    prog = snnc.compile("examples/mlp.nir", target="loihi2")
    x = np.load("examples/mlp_input.npz")["x"]
    teacher = nn.Sequential(nn.Linear(64, 48), nn.ReLU(), nn.Linear(48, 10))
    path = tmp_path / "t.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(teacher, (torch.zeros(1, 64),), str(path), dynamo=False)
    rep = prog.profile(x, teacher=str(path))
    a = rep.ann
    assert a.macs.macs == 64 * 48 + 48 * 10
    assert a.ann_proxy_J == pytest.approx(a.macs.macs * MAC_FP32_PJ * 1e-12)
    assert a.snn_proxy_J == pytest.approx(rep.synops * AC_FP32_PJ * 1e-12)
    assert a.nvml.startswith("not measured") or a.nvml == "available"
    text = rep.text()
    assert "PROXY (not a device measurement)" in text and "compares a 45 nm op count" in text
    d = rep.to_dict()["ann_comparison"]
    assert d["label"].startswith("Horowitz-45nm op-count proxy") and d["teacher_macs"] == a.macs.macs
    # a torch teacher needs an input; with one it counts the same MACs
    with pytest.raises(InputError, match="example input"):
        prog.profile(x, teacher=teacher)
    assert prog.profile(x, teacher=teacher, teacher_input=np.zeros((2, 64))).ann.macs.macs == a.macs.macs
