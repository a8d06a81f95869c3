"""CT Triage inference engine: pure Python, numpy and Keras. Never imports Django."""
