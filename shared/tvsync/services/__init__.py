"""The use cases the Lambda handlers run: ingest, the batch worker, the synchroniser, the reconciler.

They execute what ``tvsync.core`` decides and reach the outside only through the ports of
``tvsync.services.ports``. Which service runs where, and which decision each one leaves to
the core: docs/architecture.md.
"""
