"""okta-teamviewer-sync: keep TeamViewer company accounts in step with Okta.

docs/architecture.md is the map: the data flow, what each layer may import, which module
makes which decision, and how to add a new kind of change. In short:

- ``models``    pydantic schemas for everything that crosses a boundary
- ``core``      pure decisions: which events matter, the desired account, which account,
                the plan, what is recorded, orphans, drift
- ``adapters``  IO: Okta, TeamViewer, SQS, DynamoDB, Secrets Manager
- ``services``  the use cases (ingest, the batch worker, the synchroniser, the reconciler),
                typed against the ports in ``services.ports``; they execute what ``core`` decides
- ``wiring``    each function's object graph, built from its environment
- ``emulators`` faithful TeamViewer and Okta fakes for tests and the local stack
- ``local``     the one-machine stack (embedded AWS, API Gateway and SQS emulation)
- ``cli``       the ``tvsync`` command

The runtime part is the Lambda layer every function shares (``shared/Makefile`` ships
``models``, ``core``, ``adapters``, ``services``, ``wiring`` and the top-level modules); the
workstation tooling (``emulators``, ``local``, ``cli``) never leaves the workstation.
"""

# The project's one version (semantic versioning): pyproject.toml reads it from here, and
# tests/test_release.py holds CHANGELOG.md and template.yaml's Serverless Application
# Repository metadata to it. Kept here, not read from the installed metadata, because the
# Lambda layer ships this package without any.
__version__ = "0.1.0"
