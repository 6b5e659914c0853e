"""Distil a CNN teacher into a spiking CUBA LIF student on DVS-like event streams, deploy it.

    .venv/bin/python examples/distill_events.py --student conv --channels 8 16 --timesteps 4 [--quick]

The events (moving / rotating bars, 10 classes, 32 micro-steps on a 16x16 sensor, ON/OFF) are
generated offline and deterministically by snnc.distill.events.  The student gets the events
OR-ed into --timesteps bins; the teacher a 2-D CNN on 8 count frames.  Prints one JSON line
like examples/distill_digits.py.  See docs/distill.md (Event-stream task).
"""

from snnc.distill.experiment import main

if __name__ == "__main__":
    main("events", __doc__)
