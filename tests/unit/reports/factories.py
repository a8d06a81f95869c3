"""Rows for report, decision and PCR tests: a ready study with a current AI result."""
import io
import itertools

from PIL import Image

from triage.results.models import ModelVersion, Overlay, Quantification, Result
from triage.results.overlay_store import store_overlay_images
from triage.studies.models import Instance, Series, Study

CLASS_NAMES = ["covid", "normal", "pneumonia"]
_counter = itertools.count(1)


def tiny_png(colour: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def model_version() -> ModelVersion:
    version, _ = ModelVersion.objects.get_or_create(
        name="covidnet-ct-s", version="1.0.0",
        defaults={"weights_sha256": "0" * 64, "class_names": CLASS_NAMES, "input_size_px": 256,
                  "card": {"test_metrics": {"n": 120, "threshold": 0.5,
                                            "sensitivity": {"value": 0.9, "ci95": [0.82, 0.96]},
                                            "specificity": {"value": 0.85, "ci95": [0.76, 0.92]}},
                           "positive_class": "covid", "limitations": "Trained on public data from few sites."}},
    )
    return version


def make_study(*, hospital, status: str = Study.Status.READY, **fields) -> Study:
    n = next(_counter)
    fields.setdefault("study_instance_uid", f"1.2.826.0.1.3680043.10.{n}")
    fields.setdefault("patient_id", f"P{n:05d}")
    return Study.objects.create(hospital=hospital, status=status, **fields)


def make_result(*, study: Study, covid_probability: float = 0.91, predicted_label: str = "covid",
                severity_total: int | None = 6, overlays: bool = True) -> Result:
    others = (1 - covid_probability) / 2
    result = Result.objects.create(
        study=study, model_version=model_version(), covid_probability=covid_probability,
        covid_probability_uncalibrated=covid_probability, predicted_label=predicted_label,
        class_probabilities={"covid": covid_probability, "normal": others, "pneumonia": others},
        slices_scored=40, key_slice_indices=[12],
    )
    if severity_total is not None:
        Quantification.objects.create(
            result=result, lung_left_ml=2400.0, lung_right_ml=2600.0, lesion_ggo_ml=300.0,
            lesion_consolidation_ml=60.0, lesion_total_ml=360.0, lesion_fraction_left=0.125,
            lesion_fraction_right=0.0231, lesion_fraction_both=0.072, lesion_hu_mean=-612.4, lesion_hu_sd=143.2,
            lesion_hu_percentiles={"p50": -640.0},
            lesion_hu_histogram={"bin_edges_hu": [-1000.0, -750.0, -500.0, -250.0, 0.0], "counts": [10, 40, 25, 5]},
            zones={"left_upper": {"involvement_fraction": 0.3, "score": 3},
                   "right_lower": {"involvement_fraction": 0.02, "score": 1}},
            severity_total=severity_total,
        )
    if overlays:
        for kind in (Overlay.Kind.GRADCAM, Overlay.Kind.LESION):
            Overlay.objects.create(result=result, slice_index=12, kind=kind, width_px=8, height_px=8,
                                   **store_overlay_images(hospital_uuid=study.hospital.uuid, png=tiny_png(), heatmap=None))
    return result


def make_ready_study(*, hospital, **result_fields) -> Study:
    study = make_study(hospital=hospital)
    make_result(study=study, **result_fields)
    return study


def give_series(study: Study, *, z_positions_mm: list[float]) -> None:
    """Select a series of header-only slices at ``z_positions_mm`` (numbered by position), enough for the gap check."""
    series = Series.objects.create(study=study, series_instance_uid=f"{study.study_instance_uid}.1", modality="CT",
                                   rows=8, columns=8, is_selected=True, slice_count=len(z_positions_mm))
    Instance.objects.bulk_create(Instance(series=series, sop_instance_uid=f"{series.series_instance_uid}.{round(z)}",
                                          storage_path="unread.dcm", sha256="0" * 64, size_bytes=1,
                                          instance_number=round(z) + 1, z_position_mm=z) for z in z_positions_mm)
    Study.objects.filter(pk=study.pk).update(selected_series=series)
    study.refresh_from_db()
