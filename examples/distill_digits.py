"""Distil an MLP teacher into a spiking CUBA LIF student on sklearn digits, deploy it.

    .venv/bin/python examples/distill_digits.py --loss kd --tau 1 [--quick]

Trains the teacher (MLP 64-256-256-10), distils a 64-H-H-10 student (rate-encoded pixels,
T steps) with the chosen loss family, exports it to NIR, compiles it for loihi2 with snnc and
runs it on the bit-exact emulator.  Prints one JSON line (teacher_acc, student_float_acc,
student_fixed_acc, timesteps, loss, spikes_per_inference, ...).  See docs/distill.md.
"""

from torch import nn

from snnc.distill.data import digits
from snnc.distill.experiment import main_with, parser
from snnc.distill.student import dense_student


def teacher() -> nn.Module:
    return nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))


def twin(h: int):  # same topology as the student, for --ann-init
    return lambda: nn.Sequential(nn.Linear(64, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, 10))


if __name__ == "__main__":
    args = parser(__doc__).parse_args()
    args.dataset = "digits"
    main_with(args, data=digits(), make_teacher=teacher, teacher_input=lambda x: x,
              make_student=lambda a: dense_student([64, a.hidden, a.hidden, 10], output=a.output),
              pairs={"body.fc2": "3"}, make_twin=twin(args.hidden))
