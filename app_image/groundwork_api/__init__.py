"""The groundwork API image: liveness, a database heartbeat and the practice-mapping endpoint."""
