"""Thin integrations with web frameworks (each behind its extra)."""
