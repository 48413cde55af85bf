"""The PostgreSQL schema, created on first start and migrated forward.

Each part of the schema (``orders``: the order table, which the Redis backend's persister needs
alone; ``store``: the rest of the PostgreSQL store) is a list of migrations, SQL files beside
this module applied in order; ``schema_versions`` records how many of each a database has had.
Replicas starting together apply each migration once: one transaction, under an advisory lock,
reads the versions and applies what is missing (PostgreSQL's DDL is transactional: a failed
migration leaves the database as it was).
"""

from __future__ import annotations

from importlib import resources

from sniper.store.pgdb.client import Conn

#: Each part's migrations in order: append, never edit a released one.
MIGRATIONS: dict[str, tuple[str, ...]] = {
    "orders": ("orders_1.sql",),
    "store": ("store_1.sql",),
}
#: The parts a store on PostgreSQL needs (orders first: the store's index is on its table).
STORE_PARTS = ("orders", "store")
#: The advisory lock that makes replicas migrate one at a time (any constant: ours is "snip").
MIGRATION_LOCK = 0x736E6970

_VERSIONS = """
CREATE TABLE IF NOT EXISTS schema_versions (
    part            text PRIMARY KEY,
    version         integer NOT NULL
)
"""


def _sql(name: str) -> str:
    return resources.files(__package__).joinpath("sql", name).read_text("utf-8")


async def migrate(conn: Conn, parts: tuple[str, ...]) -> list[str]:
    """Bring ``parts`` up to date in one transaction; the migrations applied (none: already
    current). A database migrated by a newer release is left alone."""
    applied: list[str] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        await conn.execute(_VERSIONS)
        have = {
            r["part"]: r["version"]
            for r in await conn.fetch("SELECT part, version FROM schema_versions")
        }
        for part in parts:
            done = have.get(part, 0)
            for name in MIGRATIONS[part][done:]:
                await conn.execute(_sql(name))
                applied.append(name)
            if len(MIGRATIONS[part]) > done:
                await conn.execute(
                    "INSERT INTO schema_versions (part, version) VALUES ($1, $2) "
                    "ON CONFLICT (part) DO UPDATE SET version = excluded.version",
                    part,
                    len(MIGRATIONS[part]),
                )
    return applied
