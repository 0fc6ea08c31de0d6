"""Reviewer and institution dashboards: server-rendered pages, htmx, one live WebSocket."""
