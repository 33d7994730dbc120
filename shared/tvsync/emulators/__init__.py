"""Faithful emulators of the TeamViewer and Okta APIs, for tests and the local stack."""
