"""``sniper bench``: a flash-sale opening as a load test, with an oversell check."""
