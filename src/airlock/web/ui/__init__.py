"""The web UI: server-rendered pages beside the npm wire API, calling the same services."""
