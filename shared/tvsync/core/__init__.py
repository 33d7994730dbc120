"""The pure core: no IO, no clock, no environment. Table-tested.

Every decision about a user's account is made here and only executed by the services: which
module answers which question is the table "Where each decision lives" in
docs/architecture.md.
"""
