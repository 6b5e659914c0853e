"""Sigma-delta students: ReLU networks trained with :func:`snnc.distill.fit` and deployed as
sigma-delta networks (``snnc.compile(..., neuron="sdnn")``, docs/conversion.md), bit for bit.

``SigmaDeltaStudent(body, input_shape, calibration, threshold)`` wraps a torch
``nn.Sequential`` of ``Conv2d``/``Linear``/``ReLU``/``AvgPool2d``/``Flatten`` (what snnc's
ONNX frontend converts; the last module a ``Linear`` giving the logits) and takes **static
inputs** ``(batch, *input_shape)``, the values the deployed program's ``DeltaEncoder`` takes.

* **Float** (default): the ReLU network itself; ``out.spikes`` counts the messages a
  sigma-delta program would send for a static input (every non-zero activation, input
  included: one graded message per neuron), ``out.rates`` per ReLU layer the fraction of
  active neurons with a sigmoid surrogate gradient (for :class:`~snnc.distill.losses.SpikeBudget`).
* **QAT** (:meth:`SigmaDeltaStudent.quantize`, called by ``fit(..., qat_epochs=N)`` every
  batch): the student is exported to ONNX and compiled by ``snnc.compile(..., neuron="sdnn",
  calibration=..., threshold=...)`` itself; the forward then takes every ReLU output and the
  logits from :func:`snnc.calibration.sigma_delta.one_shot_integer_ann` on the compiled
  registers -- which the chip's read-out after depth + 1 steps equals bit for bit (bias relays,
  ``tests/integration/test_sdnn_conversion.py``) -- as ``chip + (f − f.detach())``: the forward
  value is the chip's exactly, the gradient the float network's.
* **Deploy** (:meth:`SigmaDeltaStudent.compile`): the same compile of the final weights; its
  ``run(x)[:, 0]`` equals the QAT logits exactly (``tests/unit/test_distill_sdnn.py``).

The units of the conversion come from ``calibration`` (static inputs kept with the student), so
a compile is a deterministic function of the weights: training changes them, the next
``quantize`` follows.
"""

from __future__ import annotations

import dataclasses
import io
import warnings

import numpy as np
import torch
from torch import nn

from snnc.calibration.sigma_delta import one_shot_integer_ann
from snnc.compiler.ir import loihi
from snnc.driver import compile as snnc_compile
from snnc.errors import ValidationError

#: the modules a sigma-delta student's body may hold (snnc's ONNX frontend converts them)
BODY_MODULES = (nn.Conv2d, nn.Linear, nn.ReLU, nn.AvgPool2d, nn.Flatten, nn.Identity, nn.Dropout)
#: sharpness of the active-fraction surrogate: sigmoid(SURROGATE · y)
SURROGATE = 10.0


@dataclasses.dataclass
class SigmaDeltaOutput:
    """What the distiller's losses read (the fields of ``StudentOutput``)."""

    logits: torch.Tensor  # (B, n_out)
    per_step: torch.Tensor  # (B, 1, n_out): a static input has one output step
    trace: torch.Tensor  # (B, 1, n_out)
    spikes: torch.Tensor  # (B,) messages per sample (non-zero activations, input included)
    rates: dict[str, torch.Tensor]  # per ReLU layer: active fraction per sample (B,)


class SigmaDeltaStudent(nn.Module):
    """A ReLU network deployed as a sigma-delta network; see the module docstring."""

    def __init__(self, body: nn.Sequential, input_shape, calibration, threshold: float | None = 0.0):
        super().__init__()
        bad = [f"{n} ({type(m).__name__})" for n, m in body.named_children() if not isinstance(m, BODY_MODULES)]
        if bad:
            raise ValidationError(f"the sigma-delta student's body holds {', '.join(bad)}",
                                  hint="use Conv2d, Linear, ReLU, AvgPool2d and Flatten")
        if not isinstance(list(body.children())[-1], nn.Linear):
            raise ValidationError("the sigma-delta student's body must end with a Linear layer (the logits)",
                                  hint="append nn.Linear(n_hidden, n_classes)")
        self.body = body
        self.input_shape = tuple(int(v) for v in input_shape)
        self.calibration = None
        if calibration is not None:
            self.calibrate(calibration)
        self.threshold = threshold
        #: (μ, σ) of a host-side input standardisation x' = (x − μ)/σ (:meth:`prepare`), or None
        self.standardise: tuple[float, float] | None = None
        self.program = None
        self.qat = False
        self.output = "sdnn"

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """What the deployed program takes for the data ``x``: ``(x − μ)/σ`` when the student has an
        input standardisation (:attr:`standardise`, set by ``init_from_teacher`` from the teacher's
        input BatchNorm), else ``x``; done on the host, like the ``DeltaEncoder``'s own scaling."""
        if self.standardise is None:
            return x
        mu, sigma = self.standardise
        return (x - mu) / sigma

    def calibrate(self, calibration) -> None:
        """Set the static inputs that fix the conversion's units (a few hundred training inputs)."""
        cal = np.asarray(calibration.detach().cpu() if torch.is_tensor(calibration) else calibration,
                         dtype=np.float32)
        if cal.ndim != 1 + len(self.input_shape) or tuple(cal.shape[1:]) != self.input_shape:
            raise ValidationError(f"calibration has shape {cal.shape}; expected (batch, "
                                  f"{', '.join(map(str, self.input_shape))})",
                                  hint="pass a few hundred static training inputs")
        self.calibration = cal

    # ------------------------------------------------------------------ export, compile
    def to_onnx(self):
        """The body as an ``onnx.ModelProto`` (``torch.onnx.export``, batch axis dynamic)."""
        import onnx

        buf = io.BytesIO()
        was = self.training
        self.eval()
        try:
            w = next(self.parameters())
            x = torch.zeros((1,) + self.input_shape, device=w.device, dtype=w.dtype)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(self.body, (x,), buf, dynamo=False, input_names=["x"],
                                  dynamic_axes={"x": {0: "batch"}})
        finally:
            self.train(was)
        return onnx.load_from_string(buf.getvalue())

    def compile(self, target: str = "loihi2"):
        """The deployed program: ``snnc.compile`` of the exported body with ``neuron="sdnn"``."""
        if self.calibration is None:
            raise ValidationError("the sigma-delta student has no calibration inputs",
                                  hint="pass calibration= or call student.calibrate(x_train[:300])")
        return snnc_compile(self.to_onnx(), target, calibration=self.calibration, neuron="sdnn",
                            threshold=self.threshold)

    def quantize(self, target: str = "loihi2"):
        """Compile the current weights and switch the forward to the chip's values (QAT)."""
        self.program = self.compile(target)
        self.qat = True
        return self.program

    def set_qat(self, on: bool) -> None:
        if on and self.program is None:
            raise ValidationError("QAT needs the compiled registers", hint="call student.quantize() first")
        self.qat = bool(on)

    # ------------------------------------------------------------------ forward
    def _chip(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """The compiled program's payloads per ReLU layer (in the ANN's units) and its logits."""
        prog = self.program
        q = prog.encoder.encode(x.detach().cpu().numpy())[:, 0]
        pay: dict[str, np.ndarray] = {}
        logits = one_shot_integer_ann(prog, q, deadzone=True, payloads=pay)
        units = dict(prog.reference.meta["ann"]["units"])
        layers = []
        for name in prog.graph.schedule()[0]:
            node = prog.graph[name]
            if (isinstance(node, loihi.SigmaDeltaCompartment) and node.neuron == loihi.SIGMA_DELTA
                    and node.meta.get("role") != "bias"):
                u = units[node.source or name]
                layers.append(torch.from_numpy(pay[name] * (u / 2.0 ** (node.spike_exp + node.state_exp))))
        return layers, torch.from_numpy(np.asarray(logits, dtype=np.float64))

    def forward(self, x: torch.Tensor) -> SigmaDeltaOutput:
        x = x.float() if not x.is_floating_point() else x
        chip_layers, chip_logits = self._chip(x) if self.qat else ([], None)
        messages = (x.reshape(x.shape[0], -1) != 0).sum(1).to(x.dtype)
        rates: dict[str, torch.Tensor] = {}
        h = x
        relu_index = 0
        for name, m in self.body.named_children():
            h = m(h)
            if isinstance(m, nn.ReLU):
                if self.qat:
                    chip = chip_layers[relu_index].to(h.device, h.dtype).reshape(h.shape)
                    h = chip + (h - h.detach())
                relu_index += 1
                flat = h.reshape(h.shape[0], -1)
                active = (flat > 0).to(h.dtype)
                soft = torch.sigmoid(SURROGATE * flat)
                rates[name] = (active + (soft - soft.detach())).mean(1)
                messages = messages + active.sum(1)
        if self.qat:
            if relu_index != len(chip_layers):
                raise ValidationError(f"the compiled program has {len(chip_layers)} sigma-delta layers for "
                                      f"{relu_index} ReLUs", hint="keep one ReLU per Conv2d/Linear layer")
            h = chip_logits.to(h.device, h.dtype).reshape(h.shape) + (h - h.detach())
        trace = h[:, None]
        return SigmaDeltaOutput(h, trace, trace, messages.detach(), rates)


def evaluate_sd_deployed(student: SigmaDeltaStudent, x: torch.Tensor, y: torch.Tensor, target: str = "loihi2",
                         profile: bool = True) -> dict:
    """Compile the student (:meth:`SigmaDeltaStudent.compile`), run the static inputs ``x`` on the
    emulator: accuracy (%) of ``run(x)[:, 0]``, the read-out's latency in steps (``Program.latency``
    raw step k: the output is final after k + 1 steps, k = depth), and, with ``profile``, the
    profiler's per-inference counts: ``messages`` (every graded message, the input's and the bias
    relays' included), ``synops`` (graded SynOps: messages × fan-out) and ``energy_per_inference_j``.
    ``x`` is what the student's forward takes (already :meth:`~SigmaDeltaStudent.prepare`-d)."""
    prog = student.compile(target)
    xs = x.detach().cpu().numpy()
    out = np.asarray(prog.run(xs))[:, 0]
    res = {"acc": 100.0 * float((out.argmax(-1) == y.cpu().numpy()).mean()), "program": prog, "logits": out,
           "latency_steps": 1 + max(prog.latency.values(), default=0)}
    if profile:
        rep = prog.profile(xs)
        c = rep.per_inference_counts()
        res.update(messages=float(c["messages"]), synops=float(c["synops"] + c["graded_synops"]),
                   energy_per_inference_j=float(rep.energy_J),
                   event_energy_per_inference_j=rep.estimate.events_J)
    return res
