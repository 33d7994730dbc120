"""Adapters: the only modules that talk to Okta, TeamViewer and AWS."""
