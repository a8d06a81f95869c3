"""CT Triage inference engine: pure Python, numpy and Keras. Never imports Django.

Importing this package, ``registry``, ``preprocess``, ``metrics``, ``aggregate``,
``dicom_io``, ``datasets``, ``classify`` or ``models`` loads no TensorFlow/Keras;
Keras is imported only when a model is built or loaded.

Main entry points
-----------------
- ``dicom_io.read_series(sources) -> Volume`` (HU, spacing_mm, orientation)
- ``preprocess.preprocess_study(volume_hu, *, size_px) -> PreprocessedStudy``
- ``registry.load_model(name=None) -> LoadedModel`` (model + card, checksum verified)
- ``analysis.analyse_volume(volume, *, loaded)`` (the worker's whole study) and
  ``classify.predict_slice_probabilities(loaded, slices_uint8)``
- ``aggregate.study_probability``, ``aggregate.fit_temperature``, ``aggregate.apply_temperature``
- ``metrics.binary_metrics(y_true, y_score, threshold, n_boot, seed)``
- CLIs: ``python -m inference.train``, ``inference.evaluate``, ``inference.bench``, ``inference.models``,
  ``inference.registry publish``
"""
