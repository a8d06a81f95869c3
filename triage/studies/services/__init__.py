"""Every write to studies, one module per job; callers import the module they need.

:mod:`.receiving` stores and records uploaded files, :mod:`.states` holds the state machine's
transitions, :mod:`.ingest` is the ingest step. These are step services: they return what they
did and never enqueue; :mod:`triage.pipeline.services` decides (after commit) what runs next.
"""
