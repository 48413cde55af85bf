"""The sniper: order at the opening instant on the server's clock."""
