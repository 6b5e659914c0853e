"""Distil a 1-D CNN teacher into a spiking CUBA LIF student on mnist1d, deploy it.

    .venv/bin/python examples/distill_mnist1d.py --loss kd --tau 1 [--quick]

mnist1d (pip package ``mnist1d``) is generated procedurally, offline.  The teacher is a 1-D
CNN (conv32-conv32-fc128); the student a 40-H-H-10 CUBA LIF MLP on the rate-encoded sequence.
Prints one JSON line like examples/distill_digits.py.  See docs/distill.md.
"""

from snnc.distill.experiment import main

if __name__ == "__main__":
    main("mnist1d", __doc__)
