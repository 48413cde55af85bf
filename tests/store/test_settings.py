"""Store settings: layering, worker hand-over, and secrets kept out of sight."""

from __future__ import annotations

import pytest

from sniper.errors import ConfigError
from sniper.store.settings import WORKER_ENV, StoreSettings, load_settings, settings_for_worker


def test_flags_override_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """defaults < SNIPER_* environment < flags."""
    monkeypatch.setenv("SNIPER_PORT", "9001")
    monkeypatch.setenv("SNIPER_WORKERS", "3")
    settings = load_settings(port=9002, workers=None)
    assert (settings.port, settings.workers, settings.host) == (9002, 3, "127.0.0.1")


def test_admin_token_from_environment_is_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    """SNIPER_ADMIN_TOKEN works, and the settings' repr masks it."""
    monkeypatch.setenv("SNIPER_ADMIN_TOKEN", "very-secret-token")
    settings = load_settings()
    assert settings.admin_token_value() == "very-secret-token"
    assert "very-secret-token" not in repr(settings)
    assert "very-secret-token" not in str(settings)


def test_empty_admin_token_closes_the_admin_api() -> None:
    """An empty token is no token."""
    assert StoreSettings(admin_token="").admin_token_value() is None


def test_worker_receives_the_parent_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the parent packs for --workers children comes back whole, token included."""
    parent = load_settings(port=8123, admin_token="tok-123", clock_skew_ms=-800, workers=2)
    monkeypatch.setenv(WORKER_ENV, parent.to_worker_env())
    monkeypatch.setenv("SNIPER_PORT", "1")  # the parent's word wins over a stray variable
    child = settings_for_worker()
    assert child.port == 8123
    assert child.clock_skew_ms == -800
    assert child.admin_token_value() == "tok-123"


@pytest.mark.parametrize(
    ("flags", "field"),
    [
        ({"port": 70000}, "port"),
        ({"workers": 0}, "workers"),
        ({"sqlite_synchronous": "OFF"}, "sqlite_synchronous"),
        ({"cache_ttl_s": -1}, "cache_ttl_s"),
        ({"header_timeout_s": 0}, "header_timeout_s"),
        ({"body_timeout_s": -1}, "body_timeout_s"),
        ({"max_header_bytes": 100}, "max_header_bytes"),
        ({"max_connections": -1}, "max_connections"),
    ],
)
def test_bad_values_name_the_field(flags: dict[str, object], field: str) -> None:
    """A ConfigError whose message starts with the field's name."""
    with pytest.raises(ConfigError, match=f"^{field}: "):
        load_settings(**flags)


@pytest.mark.parametrize("value", ["*", "127.0.0.1", "10.0.0.0/8, ::1", "192.168.1.7,fd00::/8"])
def test_trusted_proxies_take_addresses_and_networks(value: str) -> None:
    """``*`` or a comma-separated list of addresses and networks is kept as given."""
    assert load_settings(forwarded_allow_ips=value).forwarded_allow_ips == value


@pytest.mark.parametrize("value", ["proxy.local", "10.0.0.0/33", "127.0.0.1,,", "1.2.3.4 5.6.7.8"])
def test_a_bad_trusted_proxy_is_one_line_naming_it(value: str) -> None:
    """Anything else is a ConfigError naming the field, before uvicorn sees it."""
    with pytest.raises(ConfigError, match="forwarded_allow_ips"):
        load_settings(forwarded_allow_ips=value)
