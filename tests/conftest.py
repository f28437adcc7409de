"""Shared test configuration: Hypothesis profiles and the ``gpu`` marker.

Hypothesis profiles (chosen by the environment variable ``HYPOTHESIS_PROFILE``, default ``dev``):

* ``dev`` — few examples per property (a solve per example: the default suite stays fast),
  drawn deterministically (``derandomize``), so that a run of the suite is reproducible and a
  property's examples do not change between a developer's run and CI's;
* ``ci``  — more examples, drawn at random, for a scheduled or pre-release run that explores:
  ``HYPOTHESIS_PROFILE=ci python -m pytest tests/test_properties.py``.

Both have ``deadline=None`` (a numerical solve's time varies with the example and the machine's
load) and no ``too_slow`` health check. Tests that pass ``max_examples`` to ``@settings``
themselves keep it.

Tests marked ``gpu`` are skipped when torch sees no CUDA device (``pyproject.toml`` also leaves
them out of the default run; ``-m gpu`` selects them).
"""

from __future__ import annotations

import os

import pytest
import torch
from hypothesis import HealthCheck, settings

settings.register_profile(
    "dev",
    max_examples=6,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip ``gpu`` tests without a CUDA device."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device; torch.cuda.is_available() is False")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
