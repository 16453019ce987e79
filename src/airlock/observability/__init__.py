"""Metrics and logs for operators (no web framework here; web/observe.py is the HTTP side)."""
