"""The in-memory backend (the default): frontier, visited set, host clock and robots cache in this
process, guarded by the strategy's primitives. ``backend.MemoryBackend`` puts them together."""
