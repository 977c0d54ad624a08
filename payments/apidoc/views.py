"""The API's description: ``/openapi.json`` and a Swagger UI page at ``/docs`` (local assets)."""

from flask import Blueprint, abort, current_app, render_template, send_from_directory
from swagger_ui_bundle import swagger_ui_path

from payments.apidoc.openapi import build_spec

bp = Blueprint("docs", __name__)

#: The Swagger UI files the docs page uses; nothing else is served from the bundle.
SWAGGER_UI_ASSETS = {"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js"}


@bp.get("/openapi.json")
def openapi():
    """Return the OpenAPI 3 description of every JSON route."""
    return build_spec(current_app.config["PIX_MAX_CENTS"])


@bp.get("/docs")
def page():
    """Show the API documentation (Swagger UI, served by the app itself)."""
    return render_template("docs/index.html")


@bp.get("/docs/assets/<name>")
def asset(name: str):
    """Serve one Swagger UI file from the pinned ``swagger-ui-bundle`` package."""
    if name not in SWAGGER_UI_ASSETS:
        abort(404, "No such documentation asset")
    return send_from_directory(str(swagger_ui_path), name, max_age=86400)
