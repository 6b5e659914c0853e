#!/usr/bin/env bash
# One-command install of the snnc development environment (Python 3.11, CPU only):
#
#     bash scripts/install.sh
#
# 1. creates .venv/ (python3.11 -m venv) if it is missing;
# 2. downloads the PyPI wheels lava-nc 0.10.0 and lava-dl 0.6.0 into build/pypi (sha256-checked);
# 3. repacks them for Python 3.11 into build/wheels (tools/repack_lava.py; see
#    docs/decisions/0002-lava-on-python-311.md);
# 4. installs requirements.txt (torch==2.13.0 CPU, the +py311 Lava wheels, NIR, ONNX, ...),
#    snnc itself in editable mode (--no-deps), and the test dependencies (requirements-test.txt,
#    plus five frameworks with --no-deps so none can pull another torch: NO_DEPS_PINS);
# 5. runs `pip check`.
#
# Idempotent: a second run skips every step that is already done and takes a few seconds.
# Environment: SNNC_PYTHON=/path/to/python3.11 to choose the interpreter used to create the venv.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV=.venv
PY="$VENV/bin/python"
PIP=(pip_quiet)
# Test dependencies installed with --no-deps, so none can ever pull another torch or nir:
#   snntorch 1.0.0   its requirements are all present
#   norse 1.1.0      its torchvision requirement serves only its datasets (docs/interop.md)
#   neurobench 2.3.0 the profiler test uses only its SynapticOperations metric (numba, tonic,
#                    torchaudio unused)
#   sinabs 3.1.3     samna drives SynSense boards only; its nir<=1.0.4 pin predates v_reset, and
#                    its exporter works with nir 1.0.8 (tests/integration/test_nir_exporters.py)
#   rockpool 3.1.0   needs only numpy and scipy; torch and nir come from requirements.txt
NO_DEPS_PINS=("snntorch==1.0.0" "norse==1.1.0" "neurobench==2.3.0" "sinabs==3.1.3" "rockpool==3.1.0")
# pip check lines those choices are known to produce (anything else fails the install)
KNOWN_PIP_CHECK='^(norse 1\.1\.0 requires torchvision|neurobench 2\.3\.0 requires (llvmlite|numba|tonic|torchaudio)|sinabs 3\.1\.3 requires samna), which is not installed\.$|^sinabs 3\.1\.3 has requirement nir<=1\.0\.4, but you have nir 1\.0\.8\.$'
T0=$(date +%s)

say() { printf '[install %4ss] %s\n' "$(( $(date +%s) - T0 ))" "$*"; }
die() { printf '[install] ERROR: %s\n' "$*" >&2; exit 1; }
# pip, minus this machine's noise about local file:// index entries lacking a package.
pip_quiet() {
    "$VENV/bin/python" -m pip --disable-pip-version-check "$@" \
        2> >(grep -v "^WARNING: Location 'file://.*' is ignored: it is neither a file nor a directory" >&2)
}
is_py311() { "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; }

mkdir -p build
if command -v flock >/dev/null 2>&1; then
    exec 9>build/.install.lock
    flock 9  # the checkout is shared: never run two installs into the same .venv at once
fi

# 1. virtual environment ------------------------------------------------------------------------
if [[ -x "$PY" ]]; then
    is_py311 "$PY" || die "$VENV exists but is not Python 3.11; remove it (rm -rf $VENV) and rerun"
    say "venv $VENV present ($("$PY" -V))"
else
    BASE="${SNNC_PYTHON:-}"
    if [[ -z "$BASE" ]]; then
        if command -v python3.11 >/dev/null 2>&1; then BASE=python3.11
        elif command -v python3 >/dev/null 2>&1 && is_py311 python3; then BASE=python3
        else die "Python 3.11 not found (set SNNC_PYTHON=/path/to/python3.11)"; fi
    fi
    is_py311 "$BASE" || die "$BASE is not Python 3.11"
    say "creating $VENV with $BASE ($("$BASE" -V))"
    "$BASE" -m venv "$VENV"
fi

# 2. PyPI Lava wheels ---------------------------------------------------------------------------
if "$PY" tools/repack_lava.py --check-inputs --in build/pypi 2>/dev/null; then
    say "lava-nc 0.10.0 / lava-dl 0.6.0 wheels present in build/pypi (sha256 ok)"
else
    say "downloading lava-nc 0.10.0 and lava-dl 0.6.0 wheels from PyPI (~76 MB)"
    rm -f build/pypi/lava_nc-0.10.0-*.whl build/pypi/lava_dl-0.6.0-*.whl
    "${PIP[@]}" download -q --no-deps --ignore-requires-python -d build/pypi \
        lava-nc==0.10.0 lava-dl==0.6.0
fi

# 3. repack for Python 3.11 (checks hashes again; no-op when build/wheels is up to date) --------
say "repacking Lava wheels into build/wheels"
"$PY" tools/repack_lava.py --in build/pypi --out build/wheels

# 4. runtime requirements, snnc (editable), test requirements -----------------------------------
say "installing requirements.txt (into a fresh venv: ~30 s, mostly torch)"
"${PIP[@]}" install -q --find-links build/wheels -r requirements.txt

[[ -f pyproject.toml ]] || die "pyproject.toml not found: cannot install snnc"
STAMP="$VENV/.snnc-editable-pyproject.sha256"
WANT="$(sha256sum pyproject.toml | cut -d' ' -f1) $PWD"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]] && "$PY" -I - "$PWD" <<'EOF'
import json, pathlib, sys
from importlib import metadata
try:
    info = json.loads(metadata.distribution("snnc").read_text("direct_url.json") or "{}")
except metadata.PackageNotFoundError:
    sys.exit(1)
ok = info.get("dir_info", {}).get("editable") and info.get("url") == pathlib.Path(sys.argv[1]).as_uri()
sys.exit(0 if ok else 1)
EOF
then
    say "snnc already installed in editable mode (pyproject.toml unchanged)"
else
    say "installing snnc in editable mode (pip install -e . --no-deps)"
    rm -f "$STAMP"
    "${PIP[@]}" install -q -e . --no-deps
    echo "$WANT" > "$STAMP"
fi

say "installing test requirements (requirements-test.txt; ${NO_DEPS_PINS[*]} with --no-deps)"
"${PIP[@]}" install -q -r requirements-test.txt
for pin in "${NO_DEPS_PINS[@]}"; do
    if ! "$PY" -I -c "import importlib.metadata as m, sys; sys.exit(m.version('${pin%%==*}') != '${pin#*==}')" 2>/dev/null; then
        "${PIP[@]}" install -q --no-deps "$pin"
    fi
done

# 5. consistency ---------------------------------------------------------------------------------
if ! out=$("${PIP[@]}" check 2>&1); then  # the known gaps of the --no-deps installs above
    rest=$(printf '%s\n' "$out" | grep -Ev "$KNOWN_PIP_CHECK" || true)
    [ -z "$rest" ] || { printf '%s\n' "$rest"; die "pip check failed"; }
fi
say "done: $("$PY" -I -c 'import importlib.metadata as m; print(" | ".join(f"{d} {m.version(d)}" for d in ("torch", "lava-nc", "lava-dl")))'); pip check clean"
