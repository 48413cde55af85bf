"""The store on Redis or Redis Cluster: the backend, its scripts, the lock, the order persister and
the shared rate limit, for several replicas sharing one stock."""
