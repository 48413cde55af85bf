"""vegetable-sniper: order at the opening instant; a flash-sale store that never oversells."""

from sniper.clock import Clock, ManualClock, SkewedClock, SystemClock
from sniper.errors import ConfigError, SniperError, StoreError

__version__ = "0.1.0"

__all__ = [
    "Clock",
    "ConfigError",
    "ManualClock",
    "SkewedClock",
    "SniperError",
    "StoreError",
    "SystemClock",
    "__version__",
]
