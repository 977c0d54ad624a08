"""Paths of the app's routes, built from their endpoint names, in a request or outside one."""

from flask import current_app, has_request_context, url_for


def path_for(endpoint: str, **values) -> str:
    """Return the path of ``endpoint`` with ``values``, as ``url_for`` builds it.

    Outside a request (the background task, a command) ``url_for`` needs a
    ``SERVER_NAME`` to build even a path; the app's URL map builds it here instead,
    under ``APPLICATION_ROOT``.
    """
    if has_request_context():
        return url_for(endpoint, **values)
    app = current_app._get_current_object()
    adapter = app.extensions.get("path_adapter")
    if adapter is None:
        adapter = app.url_map.bind("localhost", script_name=app.config["APPLICATION_ROOT"])
        app.extensions["path_adapter"] = adapter
    return adapter.build(endpoint, values)
