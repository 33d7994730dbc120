"""Helpers shared by several test modules, so that no test module imports another.

``fakes``: in-memory fakes of the services' ports and settable clocks (the unit tier);
``world``: the worker's services wired to those fakes; ``pipeline``: the real WorkerFunction
over moto and the emulators (the integration tier); ``serve``: ``tvsync serve`` as a
process (the e2e tier); ``clocks``: a per-thread fake monotonic clock.
"""
