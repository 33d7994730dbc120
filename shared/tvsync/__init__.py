"""okta-teamviewer-sync: keep TeamViewer company accounts in step with Okta.

Its runtime part is the Lambda layer shared by every function (``shared/Makefile`` ships
``models``, ``core``, ``adapters``, ``services``, ``wiring`` and the top-level modules); the
workstation tooling (``emulators``, ``local``, ``cli``) stays on the workstation. It is laid
out so the architecture shows in the tree:

- ``models``    pydantic schemas for everything that crosses a boundary
- ``core``      pure functions: event selection, desired state, plan
- ``adapters``  IO: Okta, TeamViewer, SQS, DynamoDB, Secrets Manager
- ``services``  the use cases the Lambda handlers wire up (ingest, worker, reconcile)
- ``emulators`` faithful TeamViewer and Okta fakes for tests and the local stack
- ``local``     the one-machine stack (embedded AWS, API Gateway and SQS emulation)
- ``cli``       the ``tvsync`` command
"""

__version__ = "0.1.0"
