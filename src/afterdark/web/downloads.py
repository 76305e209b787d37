"""File downloads: the Content-Disposition header every export uses."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from fastapi.responses import Response


def download(filename: str, media_type: str, data: bytes) -> Response:
    """``data`` as an attachment named ``filename`` (any script), never cached."""
    # RFC 6266: an ASCII fallback, and the real name (any script) as UTF-8 in filename*.
    fallback = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    fallback = re.sub(r"[^A-Za-z0-9._-]+", "_", fallback).strip("_") or "download"
    disposition = f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename)}"
    return Response(
        data,
        media_type=media_type,
        headers={"Content-Disposition": disposition, "Cache-Control": "no-store"},
    )
