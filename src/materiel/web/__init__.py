"""The web dashboard, HTTP API and durable scenario store behind ``materiel serve``."""

from materiel.web.app import Limits, create_app, create_app_from_env
from materiel.web.store import Store

__all__ = ["Limits", "Store", "create_app", "create_app_from_env"]
