"""The cloud end of the wire: ingestors into PostgreSQL and Redis, the fleet service and `papo-cloud`."""
