"""Settings of ``sniper serve``: defaults < ``SNIPER_*`` environment < command-line flags."""

from __future__ import annotations

import ipaddress
import os
from typing import Any, Literal

import pydantic
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from sniper.errors import ConfigError
from sniper.validation import describe

#: Worker processes of ``--workers N`` receive the parent's settings through this variable.
WORKER_ENV = "SNIPER_STORE_WORKER_SETTINGS"

MAX_BODY_BYTES = 4096


class StoreSettings(BaseSettings):
    """Everything the store can be told; every field can come from ``SNIPER_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="SNIPER_", extra="ignore", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    store: str = "sqlite:///./store.db"
    admin_token: SecretStr | None = None
    workers: int = Field(1, ge=1, le=64)
    clock_skew_ms: int = Field(0, ge=-86_400_000, le=86_400_000)
    demo: bool = False

    session_ttl_s: float = Field(86_400.0, ge=0.001, description="session lifetime, seconds")
    login_user_rate_per_s: float = Field(0.05, ge=0, description="logins/s per user; 0: off")
    login_user_burst: int = Field(5, ge=1)
    login_client_rate_per_s: float = Field(
        1.0, ge=0, description="logins/s per client address; 0: off"
    )
    login_client_burst: int = Field(20, ge=1)
    forwarded_allow_ips: str | None = Field(
        None,
        description="proxies trusted for X-Forwarded-For (comma-separated); none: "
        "the TCP peer is the client",
    )
    user_rate_per_s: float = Field(20.0, ge=0, description="per-user orders/s; 0 turns it off")
    user_burst: int = Field(100, ge=1)
    global_rate_per_s: float = Field(0.0, ge=0, description="all orders/s; 0 turns it off")
    global_burst: int = Field(10_000, ge=1)
    max_inflight: int = Field(10_000, ge=1, description="requests at once before 503")
    max_pending_orders: int = Field(4096, ge=1, description="reservations queued before 503")
    cache_ttl_s: float = Field(1.0, ge=0)
    header_timeout_s: float = Field(10.0, gt=0, description="request line and headers, or 408")
    body_timeout_s: float = Field(10.0, gt=0, description="request body after its headers, or 408")
    max_header_bytes: int = Field(
        16_384, ge=1024, le=1_048_576, description="request line and headers, or 431"
    )
    max_connections: int = Field(
        0,
        ge=0,
        description="open connections per process, past which "
        "the idle or unfinished one quiet longest is closed; 0: fd limit",
    )

    catalog: str | None = Field(None, description="items to create at start-up (YAML)")
    orders_db: str = Field(
        "sqlite:///./orders.db",
        description="Redis store: the SQL table orders are copied into "
        "(sqlite:///PATH or postgresql://…)",
    )
    persister_max_workers: int = Field(8, ge=1, le=64)
    persister_batch_timeout_s: float = Field(5.0, gt=0)

    sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"
    sqlite_busy_timeout_ms: int = Field(5000, ge=0)
    sqlite_max_batch: int = Field(256, ge=1, le=10_000)

    pg_pool_size: int = Field(
        10, ge=2, le=1000, description="PostgreSQL store: connections per process"
    )
    pg_max_batch: int = Field(
        256, ge=1, le=10_000, description="PostgreSQL store: reservations per transaction"
    )
    pg_timeout_s: float = Field(
        5.0, gt=0, le=600, description="PostgreSQL: to connect, and for each statement, or 503"
    )

    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @pydantic.field_validator("forwarded_allow_ips")
    @classmethod
    def _proxies(cls, value: str | None) -> str | None:
        """``*``, or addresses and networks separated by commas; anything else is refused here
        rather than passed on to uvicorn unread."""
        if value is None or value.strip() == "*":
            return value
        for part in value.split(","):
            try:
                ipaddress.ip_network(part.strip(), strict=False)
            except ValueError:
                raise ValueError(f"{part.strip()!r} is not an address or network") from None
        return value

    def admin_token_value(self) -> str | None:
        """The admin token, or None when the admin API is closed to everyone."""
        if self.admin_token is None or not self.admin_token.get_secret_value():
            return None
        return self.admin_token.get_secret_value()

    def to_worker_env(self) -> str:
        """The settings as JSON for a worker process (secrets included, never logged)."""
        data = self.model_dump(mode="json")
        data["admin_token"] = self.admin_token_value()
        return pydantic.TypeAdapter(dict[str, Any]).dump_json(data).decode()


def load_settings(**flags: Any) -> StoreSettings:
    """Build settings from the environment overridden by the flags that were given."""
    given = {k: v for k, v in flags.items() if v is not None}
    try:
        return StoreSettings(**given)
    except pydantic.ValidationError as exc:
        raise ConfigError(describe(exc)) from None


def settings_for_worker() -> StoreSettings:
    """The settings a ``--workers`` child was started with."""
    raw = os.environ.get(WORKER_ENV)
    if raw is None:
        return load_settings()
    return StoreSettings.model_validate_json(raw)
