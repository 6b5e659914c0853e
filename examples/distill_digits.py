"""Distil an MLP teacher into a spiking CUBA LIF student on sklearn digits, deploy it.

    .venv/bin/python examples/distill_digits.py --loss kd --tau 1 [--quick]

Trains the teacher (MLP 64-256-256-10), distils a 64-H-H-10 student (rate-encoded pixels,
T steps) with the chosen loss family, exports it to NIR, compiles it for loihi2 with snnc and
runs it on the bit-exact emulator.  Prints one JSON line (teacher_acc, student_float_acc,
student_fixed_acc, timesteps, loss, spikes_per_inference, ...).  See docs/distill.md.
"""

from snnc.distill.experiment import main

if __name__ == "__main__":
    main("digits", __doc__)
