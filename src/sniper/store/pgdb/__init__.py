"""The store on PostgreSQL: the backend (``--store postgresql://``) and the Redis backend's order
table of record (``--orders-db postgresql://``)."""
