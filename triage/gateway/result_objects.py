"""The platform's own DICOM objects of a study (AI results) that DICOMweb reads serve beside stored instances.

Gateway does not know how results become DICOM: the app that builds them (exports: the TID 1500
SR, the SEG and the Grad-CAM secondary captures) registers a provider from its
``AppConfig.ready()``, as apps register health checks with core, so gateway imports no app
that imports gateway. A provider answers, for one study the caller may already see, the
current result's objects, each stored in the study store; it answers ``[]`` when the study has
no current result. Tenancy and audit stay with the gateway selectors that call it.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from triage.studies.models import Study


@dataclass(frozen=True)
class ResultObject:
    """One result instance: its series and SOP instance UIDs and where its DICOM file is stored."""

    series_instance_uid: str
    sop_instance_uid: str
    storage_path: str


ResultObjectProvider = Callable[[Study], list[ResultObject]]
_providers: dict[str, ResultObjectProvider] = {}


def register_result_object_provider(name: str, provider: ResultObjectProvider) -> None:
    """Add (or replace) the provider ``name``; registering twice, as test reloads do, keeps one."""
    _providers[name] = provider


def result_objects_of(study: Study) -> list[ResultObject]:
    """Return every registered provider's result objects of ``study`` (a study the caller may see)."""
    return [obj for provider in _providers.values() for obj in provider(study)]
