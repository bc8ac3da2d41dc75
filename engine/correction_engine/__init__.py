"""Self-hosted engine that speaks the correction API: image operations and a server."""
