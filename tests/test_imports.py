"""The sniper's side imports none of the store: a task file loads without a web server."""

from __future__ import annotations

import subprocess
import sys

import pytest

#: What only the store needs: its web framework, metrics, Redis client, server, and itself.
STORE_ONLY = ("starlette", "prometheus_client", "redis", "uvicorn", "sniper.store")


@pytest.mark.parametrize(
    "module",
    [
        "sniper.client",
        "sniper.client.config",
        "sniper.client.importer",
        "sniper.client.platforms",
        "sniper.client.engine",
        "sniper.cli",
    ],
)
def test_the_client_does_not_import_the_store(module: str) -> None:
    """Importing the module (in a fresh interpreter) leaves every store-only module unloaded."""
    script = f"import sys, {module}\nprint(' '.join(m for m in {STORE_ONLY!r} if m in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.split() == []
