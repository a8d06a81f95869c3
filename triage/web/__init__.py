"""The web shell above the step apps: one navigation, the home page per role, hospital switching, error pages.

It may import any app (like ``triage/pipeline``); no app imports it.
"""
