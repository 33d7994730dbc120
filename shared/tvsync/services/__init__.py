"""Use cases wired by the Lambda handlers: ingest, worker, reconcile."""
