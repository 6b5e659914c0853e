"""Interchange with other toolchains: lava-dl's netx HDF5 (:mod:`.netx_weights`,
:mod:`.netx_lava`; export in :mod:`snnc.backends.netx`, import in :mod:`snnc.frontends.netx`)."""
