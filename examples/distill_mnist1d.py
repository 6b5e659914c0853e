"""Distil a 1-D CNN teacher into a spiking CUBA LIF student on mnist1d, deploy it.

    .venv/bin/python examples/distill_mnist1d.py --loss kd --tau 1 [--quick]

mnist1d (pip package ``mnist1d``) is generated procedurally, offline.  The teacher is a 1-D
CNN (conv32-conv32-fc128); the student a 40-H-H-10 CUBA LIF MLP on the rate-encoded sequence.
Prints one JSON line like examples/distill_digits.py.  See docs/distill.md.
"""

from torch import nn

from snnc.distill.data import mnist1d
from snnc.distill.experiment import main_with, parser
from snnc.distill.student import dense_student


def teacher() -> nn.Module:
    return nn.Sequential(
        nn.Unflatten(1, (1, 40)), nn.Conv1d(1, 32, 5, padding=2), nn.ReLU(), nn.Conv1d(32, 32, 5, stride=2, padding=2),
        nn.ReLU(), nn.Flatten(), nn.Linear(32 * 20, 128), nn.ReLU(), nn.Linear(128, 10),
    )


if __name__ == "__main__":
    args = parser(__doc__).parse_args()
    args.dataset = "mnist1d"
    main_with(args, data=mnist1d(), make_teacher=teacher, teacher_input=lambda x: x,
              make_student=lambda a: dense_student([40, a.hidden, a.hidden, 10], output=a.output),
              pairs={"body.fc2": "8"})
