"""The operator console: a small server-rendered web app over the read models.

Starlette with Jinja2 templates shipped in the package (no build step, no CDN); forms
work without JavaScript. Pages read through :mod:`central_projector.reporting`; the one
write, a decision on a conflict, goes through
:func:`central_projector.projection.resolve.resolve_conflict` like the CLI.
"""
