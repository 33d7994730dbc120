"""Builds each function's real collaborators from its environment, once per container.

One module per function, so a function imports only what its own path needs (the ingest
function's cold start must not pay for the worker's HTTP clients). Handlers call one
builder at import time; tests, the local stack and the CLI call the same builders, so there
is exactly one way each production object graph is assembled.
"""
