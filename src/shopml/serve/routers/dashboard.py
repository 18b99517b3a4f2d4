"""The dashboard (static pages calling the JSON API) and the API docs, both without internet.

Pages live in ``shopml/serve/static/`` (installed as package data); their charts use the
``plotly.min.js`` shipped inside the installed ``plotly`` Python package, and ``/docs`` uses the
Swagger UI files shipped inside ``fastapi-offline``. Where that package is missing, ``/docs`` falls
back to FastAPI's page, which loads Swagger UI from a CDN.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from shopml import capabilities
from shopml.core.capability import Page
from shopml.core.errors import ShopMLError
from shopml.serve.errors import ApiError

STATIC = Path(str(resources.files("shopml.serve") / "static"))
#: the platform's own pages; every other page comes from a capability's spec
OVERVIEW = Page("", "Overview", "overview.html", order=0)
MONITORING = Page("monitoring", "Monitoring", "monitoring.html", order=90)
PREFIX = "/dashboard"
# static files change only with the installed package: browsers may keep them for an hour
CACHE = {"Cache-Control": "public, max-age=3600"}

router = APIRouter(include_in_schema=False)


def plotly_js() -> Path | None:
    """``plotly.min.js`` of the installed plotly package (None if plotly is not installed)."""
    try:
        path = Path(str(resources.files("plotly") / "package_data" / "plotly.min.js"))
    except ModuleNotFoundError:
        return None
    return path if path.is_file() else None


def swagger_dir() -> Path | None:
    """Swagger UI's files as shipped by ``fastapi-offline`` (None where it is not installed)."""
    try:
        path = Path(str(resources.files("fastapi_offline") / "static"))
    except ModuleNotFoundError:
        return None
    return path if (path / "swagger-ui-bundle.js").is_file() else None


@router.get("/")
def root() -> RedirectResponse:
    return RedirectResponse(PREFIX + "/")


@router.get(PREFIX)
def dashboard_slash() -> RedirectResponse:
    return RedirectResponse(PREFIX + "/")


def pages() -> list[Page]:
    """The dashboard's pages in navigation order: the overview, then every capability's (a
    page shared by two capabilities, e.g. the customer page, is listed once)."""
    found: dict[str, Page] = {OVERVIEW.slug: OVERVIEW, MONITORING.slug: MONITORING}
    for spec in capabilities.specs().values():
        for page in spec.all_pages:
            found.setdefault(page.slug, page)
    return sorted(found.values(), key=lambda p: (p.order, p.title))


def _page(file: str):
    def page() -> FileResponse:
        return FileResponse(STATIC / file, media_type="text/html")

    return page


@router.get(PREFIX + "/nav.json")
def nav() -> JSONResponse:
    """The navigation the pages draw: ``[[slug, title], ...]``."""
    return JSONResponse([[p.slug, p.title] for p in pages()], headers=CACHE)


def add_pages(app: FastAPI) -> None:
    """A route per dashboard page of the registered capabilities."""
    for page in pages():
        if not (STATIC / page.file).is_file():
            raise ShopMLError(f"dashboard page {page.file} of /dashboard/{page.slug} is missing")
        app.add_api_route(
            f"{PREFIX}/{page.slug}", _page(page.file), methods=["GET"], include_in_schema=False
        )


@router.get(PREFIX + "/vendor/plotly.min.js")
def plotly() -> FileResponse:
    path = plotly_js()
    if path is None:
        raise ApiError(
            404, "not_installed", "plotly is not installed, so the charts cannot be drawn"
        )
    return FileResponse(path, media_type="text/javascript", headers=CACHE)


@router.get(PREFIX + "/vendor/swagger/{name}")
def swagger_asset(name: str) -> FileResponse:
    folder = swagger_dir()
    allowed = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon.png")
    if folder is None or name not in allowed:
        raise ApiError(404, "not_found", f"no such documentation asset {name!r}")
    media = "text/javascript" if name.endswith(".js") else None
    return FileResponse(folder / name, media_type=media, headers=CACHE)


@router.get("/docs")
def docs(request: Request) -> HTMLResponse:
    """Swagger UI over this app's OpenAPI, from local files where fastapi-offline provides them."""
    app: FastAPI = request.app
    root = request.scope.get("root_path", "")
    openapi = root + (app.openapi_url or "/openapi.json")
    if swagger_dir() is None:
        return get_swagger_ui_html(openapi_url=openapi, title=f"{app.title} - API")
    base = f"{root}{PREFIX}/vendor/swagger"
    return get_swagger_ui_html(
        openapi_url=openapi,
        title=f"{app.title} - API",
        swagger_js_url=f"{base}/swagger-ui-bundle.js",
        swagger_css_url=f"{base}/swagger-ui.css",
        swagger_favicon_url=f"{base}/favicon.png",
    )


def mount_static(app: FastAPI) -> None:
    """The pages of every capability, and their scripts and styles under ``/dashboard/static``."""
    add_pages(app)
    app.mount(PREFIX + "/static", StaticFiles(directory=STATIC), name="dashboard-static")
