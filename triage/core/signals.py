"""Signals between apps that must not import each other (STYLE B16).

Not control flow: a signal here only keeps a read model up to date.
"""
from django.dispatch import Signal

# Sent inside the transaction of every change to what a study's worklist row shows: the study
# received or changing status (studies), a result becoming current (results), a report signed
# or re-opened (reports). The worklist, a read model above those apps, rewrites its row in the
# same transaction; the senders need not know it exists. Keyword argument: ``study``.
study_changed = Signal()
