"""Distillation from float ANN teachers into deployable spiking students (needs torch).

* :mod:`~snnc.distill.neurons`: CUBA LIF layers (dense, conv) and read-outs, float and QAT;
* :mod:`~snnc.distill.student`: :class:`SpikingStudent`, ``dense_student``, ``conv_student``;
* :mod:`~snnc.distill.export`: NIR export and the QAT registers from ``snnc.compile``;
* :mod:`~snnc.distill.decoders`, :mod:`~snnc.distill.losses`: spike decoders and KD losses;
* :mod:`~snnc.distill.distiller`, :mod:`~snnc.distill.trainer`: the (two-way) training loop;
* :mod:`~snnc.distill.sigma_delta`: :class:`SigmaDeltaStudent`, a ReLU student deployed as a
  sigma-delta network (``neuron="sdnn"``), bit for bit;
* :mod:`~snnc.distill.init`: ANN-to-SNN weight initialisation; :mod:`~snnc.distill.deploy`:
  float / deployed (emulator) evaluation.  Guide: docs/distill.md.
"""

from snnc.distill.decoders import (
    AffineDecoder,
    FirstSpikeDecoder,
    MembraneLastDecoder,
    MembraneMeanDecoder,
    PerTimestepDecoder,
    RateDecoder,
    make_decoder,
)
from snnc.distill.deploy import evaluate, evaluate_deployed
from snnc.distill.distiller import Distiller, ReverseKD
from snnc.distill.export import compile_student, quantize_student, to_nir, write_nir
from snnc.distill.init import init_from_ann
from snnc.distill.losses import (
    CrossEntropy,
    FeatureKD,
    LogitKD,
    OTFeatureKD,
    RelationKD,
    SpikeBudget,
    Weighted,
    loss_family,
    sinkhorn,
)
from snnc.distill.neurons import CubaLIF, Readout, SeqFlatten
from snnc.distill.sigma_delta import SigmaDeltaStudent
from snnc.distill.student import SpikingStudent, conv_student, dense_student
from snnc.distill.trainer import fit, seed_everything, train_teacher

__all__ = [
    "AffineDecoder", "CrossEntropy", "CubaLIF", "Distiller", "FeatureKD", "FirstSpikeDecoder", "LogitKD",
    "MembraneLastDecoder", "MembraneMeanDecoder", "OTFeatureKD", "PerTimestepDecoder", "RateDecoder",
    "Readout", "RelationKD", "ReverseKD", "SeqFlatten", "SigmaDeltaStudent", "SpikeBudget", "SpikingStudent", "Weighted",
    "compile_student", "conv_student", "dense_student", "evaluate", "evaluate_deployed", "fit", "init_from_ann",
    "loss_family", "make_decoder", "quantize_student", "seed_everything", "sinkhorn", "to_nir",
    "train_teacher", "write_nir",
]
