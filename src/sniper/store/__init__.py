"""The flash-sale order service behind ``sniper serve``."""

from sniper.store.app import create_app
from sniper.store.settings import StoreSettings

__all__ = ["StoreSettings", "create_app"]
