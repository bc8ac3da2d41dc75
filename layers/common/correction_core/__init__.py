"""Shared core of the pipeline: the API contract and client, settings, naming, validation."""
