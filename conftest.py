"""Doctests in ``textkit/`` name files as a user in the repository would (``data/samples/...``):
they run from the repository root wherever pytest is started."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent


@pytest.fixture(autouse=True)
def _doctests_from_the_repository_root(request, monkeypatch):
    if isinstance(request.node, pytest.DoctestItem):
        monkeypatch.chdir(ROOT)
