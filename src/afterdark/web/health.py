"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import text

from afterdark import __version__
from afterdark.web.deps import RuntimeDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz(runtime: RuntimeDep) -> dict[str, Any]:
    async with runtime.database.session() as session:
        await session.execute(text("SELECT 1"))
    llm = runtime.settings.llm
    model = llm.model if llm.backend == "openai" else str(llm.model_path or "SmolLM2-135M-Instruct")
    return {
        "status": "ok",
        "version": __version__,
        "database": "ok",
        "llm": {"backend": runtime.backend.name, "model": model},
    }
