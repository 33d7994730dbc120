"""The ``tvsync`` command line."""
