"""HTTP layer: thin routers over the services, pages and static files."""
