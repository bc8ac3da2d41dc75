"""Image operations: pure functions from arrays to arrays."""
