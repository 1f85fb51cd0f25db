"""One :class:`fastapi.APIRouter` per resource of the HTTP API."""

from materiel.web.routes import downloads, jobs, pages, scenarios, simulate, spending

__all__ = ["ROUTERS"]

ROUTERS = [
    pages.router,
    scenarios.router,
    simulate.router,
    downloads.router,
    spending.router,
    jobs.router,
]
