"""Fuzz: corrupted .nir files never produce a traceback, an internal error or a partial output.

Byte flips, truncations and splices of the shipped example model go through the CLI's
``compile`` in-process: each must either compile (a flip in a weight is still a valid model)
or end with a user error (exit 2, ``error:`` + ``hint:``) and write nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from snnc.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "mlp.nir"
N_CASES = int(os.environ.get("SNNC_FUZZ_CASES", "220"))


def _mutations(data: bytes, n: int):
    rng = np.random.default_rng(1234)
    arr = np.frombuffer(data, dtype=np.uint8)
    for i in range(n):
        kind = i % 4
        buf = arr.copy()
        if kind == 0:  # flip a few random bytes anywhere
            idx = rng.integers(0, buf.size, size=int(rng.integers(1, 8)))
            buf[idx] ^= rng.integers(1, 256, size=idx.size, dtype=np.uint8)
        elif kind == 1:  # flip bytes in the HDF5 header / metadata region
            idx = rng.integers(0, min(buf.size, 4096), size=int(rng.integers(1, 4)))
            buf[idx] ^= rng.integers(1, 256, size=idx.size, dtype=np.uint8)
        elif kind == 2:  # truncate
            buf = buf[: int(rng.integers(0, buf.size))]
        else:  # overwrite a block with garbage
            start = int(rng.integers(0, buf.size))
            length = int(rng.integers(1, 512))
            buf[start : start + length] = rng.integers(0, 256, size=buf[start : start + length].size, dtype=np.uint8)
        yield i, kind, buf.tobytes()


def test_fuzzed_nir_files_give_clean_errors(tmp_path, capsys):
    data = EXAMPLE.read_bytes()
    outcomes = {0: 0, 2: 0}
    for i, kind, blob in _mutations(data, N_CASES):
        model = tmp_path / f"case{i}.nir"
        model.write_bytes(blob)
        out = tmp_path / f"out{i}"
        rc = main(["compile", str(model), "-o", str(out)])
        captured = capsys.readouterr()
        assert rc in (0, 2), f"case {i} (mutation {kind}): exit {rc}\n{captured.err}"
        assert "Traceback" not in captured.err
        if rc == 2:
            assert captured.err.startswith("error: "), captured.err
            assert "hint: " in captured.err
            assert not out.exists(), f"case {i}: output written despite the error"
        else:
            assert (out / "program.json").is_file()
        outcomes[rc] += 1
        model.unlink()
    # the mutations must actually exercise the error paths
    assert outcomes[2] >= N_CASES // 4, outcomes


@pytest.mark.parametrize(
    "content",
    [b"", b"not an hdf5 file at all\n", b"\x89HDF\r\n\x1a\n" + b"\x00" * 64],
    ids=["empty", "text", "hdf5-magic-only"],
)
def test_non_nir_files(tmp_path, capsys, content):
    model = tmp_path / "m.nir"
    model.write_bytes(content)
    assert main(["compile", str(model), "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "hint: " in err
    assert not (tmp_path / "o").exists()


def test_foreign_hdf5_file(tmp_path, capsys):
    import h5py

    model = tmp_path / "foreign.nir"
    with h5py.File(model, "w") as f:
        f.create_dataset("weights", data=np.ones(3))
    assert main(["compile", str(model), "-o", str(tmp_path / "o")]) == 2
    assert "error: " in capsys.readouterr().err
