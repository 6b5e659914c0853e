"""Fuzz: malformed programs, models, inputs, CLI options and API arguments never end in an
internal error, a hang or a silently accepted out-of-range program.

The cases come from ``tools/fuzz_campaign.py`` (the campaign whose counts docs/errors.md
gives; run it whole with ``.venv/bin/python tools/fuzz_campaign.py --seed 0``).  Here:

* a seeded subset of the campaign, every family (about 450 of its cases);
* property-based (hypothesis, derandomized): random JSON values, arrays and byte damage in the
  five kinds of compiled program (dense, sparse, delayed, conv, converted ANN), each through one
  command; an acceptance is checked by the campaign's independent range oracle.
"""

from __future__ import annotations

import importlib.util
import random
import sys
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("fuzz_campaign", ROOT / "tools" / "fuzz_campaign.py")
fc = importlib.util.module_from_spec(_spec)  # a script in tools/, not a test module
sys.modules["fuzz_campaign"] = fc  # its dataclasses look their module up
_spec.loader.exec_module(fc)


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory):
    return fc.Fixtures(tmp_path_factory.mktemp("fuzz") / "fixtures")


def test_seeded_campaign_subset_has_no_internal_error_hang_or_silent_acceptance(tmp_path):
    results = fc.campaign(seed=7, scale=0.5, workdir=tmp_path, subsample=0.4)
    by_family = Counter(r.family for r in results)
    assert set(by_family) == set(fc.FAMILIES) and min(by_family.values()) >= 15, by_family
    bad = [f"{r.outcome}: {r.family}: {r.name}: {r.detail}" for r in results if r.outcome in fc.BAD]
    assert not bad, "\n".join(bad)
    assert Counter(r.outcome for r in results)["refused"] > len(results) // 2


@settings(max_examples=200, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), program=st.sampled_from(["mlp", "sparse", "delayed", "conv", "ann"]),
       edit=st.sampled_from(["json", "array", "bytes"]), rehash=st.booleans(),
       command=st.sampled_from(["inspect", "run", "resources", "report", "profile"]))
def test_random_damage_to_a_program_is_refused_or_in_range(fixtures, seed, program, edit, rehash, command):
    rng = random.Random(seed)
    fn = {"json": fc._random_json_edit, "array": fc._random_array_edit, "bytes": fc._byte_damage}[edit]
    case = fc._program_case(fixtures, rng, program, command, f"random-{edit}", fn, rehash, expect="any")
    assert case is not None
    r = fc.run_case(case, timeout=60)
    assert r.outcome not in fc.BAD, f"{r.outcome}: {r.name}: {r.detail}"
    if not rehash and edit != "bytes":  # the manifest was left as saved: the edit must be caught
        assert r.outcome == "refused", r.name
