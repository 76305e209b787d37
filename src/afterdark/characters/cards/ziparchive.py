"""Bounded ZIP reading and deterministic ZIP writing for CharX archives.

Header sizes are never trusted: every member is stream-read while the actual bytes are
counted against the per-member, total and ratio caps, so a zip bomb costs at most the caps.
"""

from __future__ import annotations

import io
import re
import zipfile

from afterdark.characters.cards.errors import CardError, human_size
from afterdark.characters.cards.limits import CardLimits, check_file_size

_CENTRAL_HEADER = b"PK\x01\x02"
_DRIVE = re.compile(r"^[A-Za-z]:")
_READ_SIZE = 64 * 1024
_RATIO_FLOOR = 2**20  # the ratio cap applies to members larger than this
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_UNIX = 3


def show_name(name: str) -> str:
    """A member name quoted for an error message, escaped when it holds odd characters."""
    shown = name if len(name) <= 100 else name[:97] + "..."
    return f"'{shown}'" if shown.isprintable() else ascii(shown)


def safe_member_path(name: str) -> str:
    """``name`` without a trailing ``/``; CardError when it could escape the archive."""
    if "\0" in name:
        raise CardError(f"CharX member {show_name(name)} contains a NUL byte")
    if "\\" in name:
        raise CardError(f"CharX member {show_name(name)} contains a backslash; use '/'")
    path = name.removesuffix("/")
    parts = path.split("/")
    if name.startswith("/") or _DRIVE.match(name) or ".." in parts:
        raise CardError(f"CharX member {show_name(name)} escapes the archive")
    if any(part in ("", ".") for part in parts):
        raise CardError(f"CharX member {show_name(name)} has an empty or '.' path segment")
    return path


def read_zip(data: bytes, limits: CardLimits) -> list[tuple[str, bytes]]:
    """Every file member of a ZIP archive, in archive order; directories are skipped."""
    check_file_size(data, limits)
    # Counting central-directory signatures bounds the member list before zipfile builds it.
    if data.count(_CENTRAL_HEADER) > limits.max_zip_members:
        raise CardError(f"CharX has more than {limits.max_zip_members} members")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return _read_members(archive, limits)
    except CardError:
        raise
    except Exception as exc:  # zipfile raises many undocumented types on corrupt input
        detail = str(exc)[:200] or type(exc).__name__
        raise CardError(f"CharX archive is corrupt ({detail})") from None


def _read_members(archive: zipfile.ZipFile, limits: CardLimits) -> list[tuple[str, bytes]]:
    infos = archive.infolist()
    if len(infos) > limits.max_zip_members:
        raise CardError(f"CharX has more than {limits.max_zip_members} members")
    seen: set[str] = set()
    members: list[tuple[str, bytes]] = []
    total = 0
    for info in infos:
        path = safe_member_path(info.orig_filename)
        if path in seen:
            raise CardError(f"CharX member {show_name(path)} appears twice")
        seen.add(path)
        if info.is_dir():
            continue
        if info.flag_bits & 0x1:
            raise CardError(f"CharX member {show_name(path)} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise CardError(
                f"CharX member {show_name(path)} uses unsupported compression "
                f"(method {info.compress_type}); use deflate"
            )
        body = _read_member(archive, info, path, limits, limits.max_zip_total_bytes - total)
        total += len(body)
        members.append((path, body))
    return members


def _read_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: str, limits: CardLimits, budget: int
) -> bytes:
    body = bytearray()
    ratio_cap = limits.max_zip_ratio * max(info.compress_size, 1)
    with archive.open(info) as stream:
        while block := stream.read(_READ_SIZE):
            body += block
            size = len(body)
            if size > limits.max_zip_member_bytes:
                limit = human_size(limits.max_zip_member_bytes)
                raise CardError(f"CharX member {show_name(path)} is larger than {limit}")
            if size > budget:
                limit = human_size(limits.max_zip_total_bytes)
                raise CardError(f"CharX contents are larger than {limit} in total")
            if size > _RATIO_FLOOR and size > ratio_cap:
                raise CardError(
                    f"CharX member {show_name(path)} expands more than "
                    f"{limits.max_zip_ratio} times its compressed size (a zip bomb?)"
                )
    return bytes(body)


def write_zip(members: list[tuple[str, bytes]]) -> bytes:
    """A deflated ZIP with fixed timestamps and attributes, so equal input gives equal bytes."""
    buffer = io.BytesIO()
    seen: set[str] = set()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, body in members:
            path = safe_member_path(name)
            if path != name or path in seen:
                raise CardError(f"cannot write CharX member {show_name(name)} (bad or repeated)")
            seen.add(path)
            info = zipfile.ZipInfo(path, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = _UNIX
            info.external_attr = 0o100644 << 16
            archive.writestr(info, body, compresslevel=6)
    return buffer.getvalue()
