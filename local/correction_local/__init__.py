"""Runs the whole pipeline on one machine: moto for AWS, our engine for the API."""
