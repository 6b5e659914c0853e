#!/usr/bin/env python3
"""Repack the PyPI wheels of lava-nc 0.10.0 and lava-dl 0.6.0 so they install on Python 3.11.

Both wheels declare ``Requires-Python: >=3.10,<3.11``; lava-nc also fails at import time on 3.11
(mutable dataclass defaults), and lava-dl pins torch<2.4 and imports torchvision/opencv/PIL eagerly.
This tool applies exactly the fixes listed in the install reference (install.md section 3) and
writes ``lava_nc-0.10.0+py311`` and ``lava_dl-0.6.0+py311`` wheels:

lava-nc
  * ``lava/magma/compiler/var_model.py``: the 8 ``name: ByteEncoder = ByteEncoder()`` fields become
    ``field(default_factory=ByteEncoder)``; ``field`` is added to the ``dataclasses`` import.
  * METADATA: ``Requires-Python: >=3.10``; the unused scikit-learn dependency is dropped.
lava-dl
  * ``lava/lib/dl/slayer/__init__.py``: ``object_detection`` (alias ``obd``) is imported lazily
    through a module ``__getattr__`` (PEP 562).
  * METADATA: ``Requires-Python: >=3.10``; ``torch (>=2.3.1)``; torchvision, opencv-python-headless
    and pillow move to the extra ``obd``; pytest, unittest2 and ninja are dropped.
both
  * the top-level ``tests/`` package is left out; the version gets the local label ``+py311`` (in
    METADATA, the ``.dist-info`` folder name and the wheel file name); RECORD is regenerated.

Safety: the input sha256 must match, and every edit is an exact string replacement that must match
the expected number of times, otherwise the tool exits with status 1 and says what did not match.
Output is reproducible (fixed zip timestamps, original member order).  A manifest
(``repack-manifest.json`` in the output folder) makes re-runs a no-op when inputs, this tool and the
outputs are unchanged.  Standard library only.

Usage:
  python tools/repack_lava.py [--in build/pypi] [--out build/wheels]
  python tools/repack_lava.py --check-inputs [--in build/pypi]   # exit 0 iff both inputs are OK
"""
from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import json
import os
import sys
import tempfile
import zipfile
from pathlib import Path

LABEL = "py311"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
MANIFEST = "repack-manifest.json"

_LAZY_OBD = '''\
# [repacked +py311] object_detection needs torchvision, opencv and PIL: import it lazily (PEP 562),
# so that slayer and netx work without them.
def __getattr__(name):
    if name == 'obd':
        import importlib
        module = importlib.import_module('.object_detection', __name__)
        globals()['obd'] = module
        return module
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
'''


def _obd_extra(req: str) -> tuple[str, str, int]:
    return f"Requires-Dist: {req}\n", f'Requires-Dist: {req} ; extra == "obd"\n', 1


# (old, new, expected count) per member; "METADATA" means <dist-info>/METADATA.
SPECS = {
    "lava_nc-0.10.0-py3-none-any.whl": {
        "dist": "lava_nc", "version": "0.10.0",
        "sha256": "d646723e888a72868dac77d31beee3eef1f540366a8c1a8578a2dc3302470926",
        "edits": {
            "lava/magma/compiler/var_model.py": [
                ("from dataclasses import dataclass, InitVar\n",
                 "from dataclasses import dataclass, field, InitVar\n", 1),
                *[(f"    {n}: ByteEncoder = ByteEncoder()\n",
                   f"    {n}: ByteEncoder = field(default_factory=ByteEncoder)\n", k)
                  for n, k in (("x", 2), ("y", 2), ("p", 1), ("z", 1), ("hi", 1), ("lo", 1))],
                ("ByteEncoder()", "ByteEncoder()", 0),  # none left
            ],
            "METADATA": [
                ("\nVersion: 0.10.0\n", f"\nVersion: 0.10.0+{LABEL}\n", 1),
                ("\nRequires-Python: >=3.10,<3.11\n", "\nRequires-Python: >=3.10\n", 1),
                ("Requires-Dist: scikit-learn (>=1.5.0,<2.0.0)\n", "", 1),
            ],
        },
    },
    "lava_dl-0.6.0-py3-none-any.whl": {
        "dist": "lava_dl", "version": "0.6.0",
        "sha256": "bcb448f2bb85dc0da4b4dbbbae16543d2a978c1da7279acc522ad621fc68c437",
        "edits": {
            "lava/lib/dl/slayer/__init__.py": [
                ("from . import object_detection as obd\n", "", 1),
                ("\n__all__ = [\n", "\n" + _LAZY_OBD + "\n\n__all__ = [\n", 1),
            ],
            "METADATA": [
                ("\nVersion: 0.6.0\n", f"\nVersion: 0.6.0+{LABEL}\n", 1),
                ("\nRequires-Python: >=3.10,<3.11\n", "\nRequires-Python: >=3.10\n", 1),
                ("Requires-Dist: torch (>=2.3.1,<2.4.0)\n", "Requires-Dist: torch (>=2.3.1)\n", 1),
                _obd_extra("torchvision (>=0.18.0,<0.19.0)"),
                _obd_extra("opencv-python-headless (>=4.8.1.78,<5.0.0.0)"),
                _obd_extra("pillow (>=10.0.1,<11.0)"),
                ("Requires-Dist: pytest (>=7.2.0,<8.0.0)\n", "", 1),
                ("Requires-Dist: unittest2 (>=1.1.0,<2.0.0)\n", "", 1),
                ("Requires-Dist: ninja (>=1.10.2.3,<2.0.0.0)\n", "", 1),
                ("Requires-Dist: h5py (>=3.7.0,<4.0.0)\n",
                 "Provides-Extra: obd\nRequires-Dist: h5py (>=3.7.0,<4.0.0)\n", 1),
            ],
        },
    },
}


class RepackError(Exception):
    pass


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def out_name(spec: dict) -> str:
    return f"{spec['dist']}-{spec['version']}+{LABEL}-py3-none-any.whl"


def apply_edits(member: str, text: str, edits: list) -> str:
    for old, new, expected in edits:
        found = text.count(old)
        if found != expected:
            raise RepackError(f"{member}: expected {expected} occurrence(s) of {old!r}, "
                              f"found {found} (upstream changed? refusing to repack)")
        text = text.replace(old, new)
    return text


def repack(src: Path, spec: dict) -> bytes:
    """Return the bytes of the repacked wheel built from ``src``."""
    old_di = f"{spec['dist']}-{spec['version']}.dist-info/"
    new_di = f"{spec['dist']}-{spec['version']}+{LABEL}.dist-info/"
    edits = {(old_di + "METADATA" if k == "METADATA" else k): v for k, v in spec["edits"].items()}
    buf, record, dropped = io.BytesIO(), [], 0
    with zipfile.ZipFile(src) as zin, \
            zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zout:
        names = zin.namelist()
        missing = sorted(set(edits) - set(names))
        if missing:
            raise RepackError(f"{src.name}: members not found: {missing}")
        for info in zin.infolist():
            name = info.filename
            if name.startswith("tests/"):
                dropped += 1
                continue
            if name == old_di + "RECORD" or info.is_dir():
                continue
            data = zin.read(name)
            if name in edits:
                data = apply_edits(name, data.decode("utf-8"), edits[name]).encode("utf-8")
                if name.endswith(".py"):
                    compile(data, name, "exec")  # the edited source must still be valid Python
            if name.startswith(old_di):
                name = new_di + name[len(old_di):]
            elif not name.startswith("lava/"):
                raise RepackError(f"{src.name}: unexpected top-level member {name!r}")
            zi = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = info.external_attr or (0o644 << 16)
            zout.writestr(zi, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            record.append((name, "sha256=" + digest.decode("ascii"), str(len(data))))
        if dropped == 0:
            raise RepackError(f"{src.name}: no top-level tests/ package found to drop")
        record.append((new_di + "RECORD", "", ""))
        rec = io.StringIO()
        csv.writer(rec, lineterminator="\n").writerows(record)
        zi = zipfile.ZipInfo(new_di + "RECORD", date_time=ZIP_DATE)
        zi.compress_type = zipfile.ZIP_DEFLATED
        zi.external_attr = 0o644 << 16
        zout.writestr(zi, rec.getvalue())
    return buf.getvalue()


def check_inputs(indir: Path) -> list[str]:
    """Return a list of problems with the input wheels (empty if both are present and intact)."""
    problems = []
    for fname, spec in SPECS.items():
        path = indir / fname
        if not path.is_file():
            problems.append(f"missing input {path}")
        elif (got := sha256_file(path)) != spec["sha256"]:
            problems.append(f"{path}: sha256 {got} != expected {spec['sha256']}")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--in", dest="indir", type=Path, default=Path("build/pypi"))
    ap.add_argument("--out", dest="outdir", type=Path, default=Path("build/wheels"))
    ap.add_argument("--check-inputs", action="store_true",
                    help="only check that both input wheels exist with the expected sha256")
    args = ap.parse_args(argv)

    problems = check_inputs(args.indir)
    if args.check_inputs or problems:
        for p in problems:
            print(f"repack_lava: {p}", file=sys.stderr)
        return 1 if problems else 0

    tool_sha = sha256_file(Path(__file__))
    args.outdir.mkdir(parents=True, exist_ok=True)
    manifest_path = args.outdir / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        manifest = {}
    new_manifest = {}
    for fname, spec in SPECS.items():
        dst = args.outdir / out_name(spec)
        entry = manifest.get(dst.name, {})
        key = {"input_sha256": spec["sha256"], "tool_sha256": tool_sha}
        if (dst.is_file() and all(entry.get(k) == v for k, v in key.items())
                and entry.get("output_sha256") == sha256_file(dst)):
            print(f"repack_lava: {dst.name} up to date")
            new_manifest[dst.name] = entry
            continue
        try:
            data = repack(args.indir / fname, spec)
        except RepackError as e:
            print(f"repack_lava: error: {e}", file=sys.stderr)
            return 1
        if dst.is_file() and dst.read_bytes() == data:
            print(f"repack_lava: {dst.name} unchanged")
        else:
            with tempfile.NamedTemporaryFile(dir=args.outdir, delete=False) as tmp:
                tmp.write(data)
            os.chmod(tmp.name, 0o644)
            os.replace(tmp.name, dst)
            print(f"repack_lava: wrote {dst} ({len(data) / 1e6:.1f} MB)")
        new_manifest[dst.name] = {**key, "output_sha256": hashlib.sha256(data).hexdigest()}
    if new_manifest != manifest:
        manifest_path.write_text(json.dumps(new_manifest, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
