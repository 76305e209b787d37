"""HTML pages of the web UI.

Each page is a static shell: its script asks ``GET /api/v1/me`` who is signed in (and goes
to ``/login`` on 401), then fills itself from the JSON API. No auth logic and no database here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from afterdark import __version__
from afterdark.safety.likeness import ATTESTATIONS
from afterdark.web.deps import Id

TEMPLATES_DIR = Path(__file__).parent / "templates"

templates = Jinja2Templates(directory=TEMPLATES_DIR)
router = APIRouter(include_in_schema=False)

# The shells are tiny and carry no data; never let a shared cache keep one.
_HEADERS = {"Cache-Control": "no-store"}


def _root(request: Request) -> str:
    root: str = request.scope.get("root_path", "")
    return root.rstrip("/")


def _page(request: Request, template: str, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        template,
        {"root": _root(request), "version": __version__, **context},
        headers=_HEADERS,
    )


@router.get("/")
async def index(request: Request) -> Response:
    return RedirectResponse(f"{_root(request)}/characters", status_code=303)


@router.get("/login", response_class=HTMLResponse)
async def login(request: Request) -> HTMLResponse:
    return _page(request, "login.html", page="login", title="Log in")


@router.get("/reset", response_class=HTMLResponse)
async def reset(request: Request) -> HTMLResponse:
    return _page(request, "reset.html", page="reset", title="New password")


@router.get("/signup", response_class=HTMLResponse)
async def signup(request: Request) -> HTMLResponse:
    return _page(request, "signup.html", page="signup", title="Sign up")


@router.get("/characters", response_class=HTMLResponse)
async def characters(request: Request) -> HTMLResponse:
    return _page(request, "characters.html", page="characters", title="Characters")


@router.get("/characters/{character_id}", response_class=HTMLResponse)
async def character(request: Request, character_id: Id) -> HTMLResponse:
    return _page(
        request, "character.html", page="character", title="Character", object_id=character_id
    )


@router.get("/characters/{character_id}/memory", response_class=HTMLResponse)
async def memory(request: Request, character_id: Id) -> HTMLResponse:
    return _page(request, "memory.html", page="memory", title="Memory", object_id=character_id)


@router.get("/characters/{character_id}/gallery", response_class=HTMLResponse)
async def gallery(request: Request, character_id: Id) -> HTMLResponse:
    return _page(
        request,
        "gallery.html",
        page="gallery",
        title="Pictures",
        object_id=character_id,
        attestations=ATTESTATIONS,
    )


@router.get("/studio/new", response_class=HTMLResponse)
async def studio_new(request: Request) -> HTMLResponse:
    return _page(request, "studio.html", page="studio", title="New character")


@router.get("/studio/{character_id}", response_class=HTMLResponse)
async def studio(request: Request, character_id: Id) -> HTMLResponse:
    return _page(request, "studio.html", page="studio", title="Studio", object_id=character_id)


@router.get("/chat/{conversation_id}", response_class=HTMLResponse)
async def chat(request: Request, conversation_id: Id) -> HTMLResponse:
    return _page(request, "chat.html", page="chat", title="Chat", object_id=conversation_id)


@router.get("/conversations", response_class=HTMLResponse)
async def conversations(request: Request) -> HTMLResponse:
    return _page(request, "conversations.html", page="conversations", title="Chats")


@router.get("/settings", response_class=HTMLResponse)
async def settings(request: Request) -> HTMLResponse:
    return _page(request, "settings.html", page="settings", title="Settings")


@router.get("/admin", response_class=HTMLResponse)
async def admin(request: Request) -> HTMLResponse:
    return _page(request, "admin.html", page="admin", title="Admin")


@router.get("/pricing", response_class=HTMLResponse)
async def pricing(request: Request) -> HTMLResponse:
    return _page(request, "pricing.html", page="pricing", title="Prices")


@router.get("/sparks", response_class=HTMLResponse)
async def sparks(request: Request) -> HTMLResponse:
    return _page(request, "sparks.html", page="sparks", title="Sparks")
