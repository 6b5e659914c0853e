"""Calibration: per-layer statistics of the float model on user data, used by the quantizer.

:func:`observe` runs the float reference on calibration inputs and records, per neuron
population, the peak synaptic drive (the largest per-step voltage increment the input current
produces, ``|g_v·I|``), the peak membrane voltage and the spike rate.  With
``snnc.compile(..., calibration=x)`` the quantizer sizes each population's scale for the
drive the data actually produce (with a 2x margin) instead of the worst case in which every
input spikes at once, which on wide layers buys several bits of threshold resolution.
How the statistics become registers is a method (:mod:`.methods`: ``max``, ``percentile``,
``search`` in :mod:`.search`); :mod:`.report` compares a compiled program with its float
model layer by layer (``prog.report(x)``).  See docs/calibration.md.
"""

from snnc.calibration.observe import PopulationStats, observe

__all__ = ["observe", "PopulationStats"]
