"""The HTTP server that speaks the correction API contract."""
