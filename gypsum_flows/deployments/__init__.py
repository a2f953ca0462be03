"""Deployment helpers of gypsum-flows: ``prefect.yaml`` steps (:mod:`.steps`)."""
