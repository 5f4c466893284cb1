"""Staying useful when an external endpoint misbehaves."""
