"""``afterdark serve``."""

from __future__ import annotations

import typer

from afterdark.cli.common import fail, settings_or_exit
from afterdark.config import ConfigError
from afterdark.privacy.providers import create_key_provider


def serve(
    host: str = typer.Option(None, help="Interface to listen on (default: server.host)."),
    port: int = typer.Option(None, help="TCP port (default: server.port)."),
    log_level: str = typer.Option("info", help="uvicorn log level."),
) -> None:
    """Run the web app and API."""
    import uvicorn

    from afterdark.app import create_app

    settings = settings_or_exit()
    try:
        create_key_provider(settings)
    except ConfigError as exc:
        raise fail(str(exc), 2) from None
    app = create_app(settings)
    uvicorn.run(
        app,
        host=host or settings.server.host,
        port=port or settings.server.port,
        log_level=log_level,
        loop="uvloop",
        http="httptools",
        proxy_headers=True,
        timeout_graceful_shutdown=5,
    )
