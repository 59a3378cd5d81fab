"""The benchmark generator's output is a valid policy: no error, no warning."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import gen_policy

from egress.check import validate


@pytest.mark.parametrize(
    "params",
    [
        gen_policy.Params(zones=6, services=20, destinations=8, stages=4, grants=60, seed=3),
        gen_policy.Params(zones=3, services=10, destinations=5, stages=1, grants=10, proxied_fraction=0.5, seed=7),
        gen_policy.Params(zones=12, services=40, destinations=3, stages=6, grants=200, proxied_fraction=0.0, seed=11),
    ],
    ids=["small", "one-stage", "no-proxy"],
)
def test_generated_policy_validates_cleanly(tmp_path, params):
    policy_path, lock_path, gen = gen_policy.write(params, str(tmp_path / "bench.yaml"))
    assert Path(lock_path) == tmp_path / "bench.lock.yaml"
    policy, diagnostics = validate(policy_path, dt.date(2026, 6, 1))
    assert policy is not None
    assert [str(d) for d in diagnostics] == []
    assert len(policy.services) == params.services
    assert sum(len(s.destinations) for s in policy.services.values()) == params.services * params.destinations
    assert sum(len(s.grants) for s in policy.stages) == params.grants
    assert len(policy.stages) == params.stages
    assert policy.lock is not None and set(policy.lock.hosts) == set(gen.lock)


def test_generator_is_deterministic(tmp_path):
    params = gen_policy.Params(zones=4, services=8, destinations=4, stages=3, grants=20, seed=5)
    first, _, _ = gen_policy.write(params, str(tmp_path / "a.yaml"))
    second, _, _ = gen_policy.write(params, str(tmp_path / "b.yaml"))
    assert Path(first).read_text() == Path(second).read_text()
