"""The dashboard's blueprints, for `create_app`: importing the page modules registers their
routes on the one pages blueprint (render.py)."""

from __future__ import annotations

from quart import Blueprint

from oore.http.dashboard import assets, badges, catalog, login, pages, render

# Imported for their routes.
__all__ = ["BLUEPRINTS", "catalog", "login", "pages"]

BLUEPRINTS: tuple[Blueprint, ...] = (render.blueprint, assets.blueprint, badges.blueprint)
