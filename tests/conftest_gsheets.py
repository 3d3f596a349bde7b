"""Pytest fixtures for the Google Sheets path: a throwaway service account and a fake Sheets API.

Loaded as a plugin (``pytest_plugins = ["tests.conftest_gsheets"]`` in ``tests/conftest.py``).
Nothing contacts Google: the service account's ``token_uri`` is the fake's ``/token`` and the
``google_session`` fixture maps ``sheets.googleapis.com`` / ``oauth2.googleapis.com`` to the fake.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fake_sheets import SMALL_TABS, FakeSheets, fake_session, generate_service_account

__all__ = [
    "SMALL_TABS",
    "fake_sheets",
    "google_session",
    "rsa_private_key",
    "rsa_service_account",
]


@pytest.fixture(scope="session")
def rsa_private_key() -> rsa.RSAPrivateKey:
    """A throwaway RSA key, generated once per session (1024 bits: loading is 5x faster)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=1024)


@pytest.fixture
def fake_sheets(rsa_private_key: rsa.RSAPrivateKey) -> Iterator[FakeSheets]:
    """A running fake Sheets API with :data:`SMALL_TABS`, accepting only ``rsa_private_key``."""
    tabs = {name: [list(r) for r in rows] for name, rows in SMALL_TABS.items()}
    with FakeSheets(
        tabs,
        title="Isotretinoin Delphi (responses)",
        time_zone="Europe/Rome",
        public_keys=[rsa_private_key.public_key()],
    ) as fake:
        yield fake


@pytest.fixture
def rsa_service_account(
    fake_sheets: FakeSheets, rsa_private_key: rsa.RSAPrivateKey
) -> dict[str, Any]:
    """Service-account key dict (as in the JSON key file) whose token_uri is the fake's."""
    info, _ = generate_service_account(fake_sheets.token_uri, rsa_private_key)
    return info


@pytest.fixture
def google_session(fake_sheets: FakeSheets) -> Iterator[requests.Session]:
    """A requests session on which Google's API hosts map to the fake."""
    session = fake_session(fake_sheets.url)
    yield session
    session.close()
