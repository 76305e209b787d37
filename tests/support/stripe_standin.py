"""A loopback stand-in for Stripe's HTTP API, and webhooks signed exactly as Stripe signs.

It speaks what the official ``stripe`` SDK sends: form-encoded ``POST /v1/customers``,
``/v1/checkout/sessions``, ``/v1/billing_portal/sessions``, ``/v1/subscriptions/<id>``
(nested keys like ``line_items[0][price_data][currency]``), ``GET`` of those objects,
``DELETE /v1/customers/<id>`` (the deleted object ``{"id", "object": "customer", "deleted":
true}``, which a later ``GET`` returns too; the customer's subscriptions are cancelled; an
unknown or already deleted customer is a 404 ``resource_missing``), the
``Authorization: Bearer <key>`` check and Stripe's error shape
(``{"error": {"type", "code", "message", "param"}}``). ``Idempotency-Key`` is honoured as
Stripe does: the same key returns the first answer. Every request is recorded.

``serve_stripe`` runs it in the running event loop; ``run_stripe`` in a thread of its own
(for a server or a browser test that runs outside the test's loop).

``sign`` builds the ``Stripe-Signature`` header: ``t=<ts>,v1=<hex HMAC-SHA256 of
"<ts>.<raw body>" under the whsec secret>``; ``event`` builds an event envelope.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import re
import socket
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import orjson
from aiohttp import web

from tests.support.loopback import in_thread

API_KEY = "sk_test_standin"
WEBHOOK_SECRET = "whsec_standin_secret"
_KEY_PART = re.compile(r"\[([^\]]*)\]")


def parse_form(body: str) -> dict[str, Any]:
    """Stripe's form encoding, nested: ``a[b][0][c]=1`` → ``{"a": {"b": [{"c": "1"}]}}``."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        head = key.split("[", 1)[0]
        parts = [head, *_KEY_PART.findall(key[len(head) :])]
        node: dict[str, Any] = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _lists(root)


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if node and all(k.isdigit() for k in node):
        return [_lists(node[k]) for k in sorted(node, key=int)]
    return {k: _lists(v) for k, v in node.items()}


def sign(payload: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header Stripe would send for ``payload``."""
    ts = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


_event_ids = itertools.count(1)


def event(
    kind: str, obj: dict[str, Any], *, event_id: str | None = None, created: int | None = None
) -> bytes:
    """A Stripe event envelope (API object ``event``) around ``obj``, as raw JSON bytes."""
    return orjson.dumps(
        {
            "id": event_id or f"evt_standin_{next(_event_ids)}_{time.time_ns()}",
            "object": "event",
            "api_version": "2025-03-31.basil",
            "created": int(time.time()) if created is None else created,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": kind,
            "data": {"object": obj},
        }
    )


@dataclass
class StripeStandIn:
    """The stand-in's state and what it has seen; change fields at any time."""

    api_key: str = API_KEY
    fail_status: int | None = None  # answer every API call with this error status
    requests: list[dict[str, Any]] = field(default_factory=list)  # method, path, form, headers
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)  # by id
    base_url: str = ""
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _idempotent: dict[str, dict[str, Any]] = field(default_factory=dict)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/customers", self._create("customer", "cus"))
        app.router.add_post("/v1/checkout/sessions", self._create("checkout.session", "cs_test"))
        app.router.add_post(
            "/v1/billing_portal/sessions", self._create("billing_portal.session", "bps")
        )
        app.router.add_post("/v1/subscriptions/{id}", self._update)
        app.router.add_delete("/v1/customers/{id}", self._delete_customer)
        for path in (
            "/v1/customers/{id}",
            "/v1/checkout/sessions/{id}",
            "/v1/billing_portal/sessions/{id}",
            "/v1/subscriptions/{id}",
        ):
            app.router.add_get(path, self._get)
        return app

    def calls(self, path: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"] == path]

    def add_customer(self, customer_id: str, **fields: Any) -> dict[str, Any]:
        customer = {"id": customer_id, "object": "customer", "livemode": False, "metadata": {}}
        self.objects[customer_id] = customer | fields
        return self.objects[customer_id]

    def add_subscription(self, sub_id: str, customer: str, **fields: Any) -> dict[str, Any]:
        sub = {"id": sub_id, "object": "subscription", "customer": customer, "status": "active"}
        sub |= {"cancel_at_period_end": False, "metadata": {}, **fields}
        self.objects[sub_id] = sub
        return sub

    async def _record(self, request: web.Request) -> tuple[dict[str, Any], web.Response | None]:
        form = parse_form((await request.read()).decode())
        self.requests.append(
            {
                "method": request.method,
                "path": request.path,
                "form": form,
                "headers": dict(request.headers),
            }
        )
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return form, _error(401, "invalid_request_error", "Invalid API Key provided.")
        if self.fail_status is not None:
            return form, _error(self.fail_status, "api_error", "The stand-in was told to fail.")
        return form, None

    def _create(self, kind: str, prefix: str):  # type: ignore[no-untyped-def]
        async def handler(request: web.Request) -> web.Response:
            form, refused = await self._record(request)
            if refused is not None:
                return refused
            key = request.headers.get("Idempotency-Key")
            if key and key in self._idempotent:
                return _json(self._idempotent[key])
            if kind == "checkout.session" and form.get("mode") not in ("payment", "subscription"):
                return _error(400, "invalid_request_error", "Invalid mode.", "mode")
            obj_id = f"{prefix}_{next(self._ids)}"
            obj: dict[str, Any] = {"id": obj_id, "object": kind, "livemode": False}
            obj["created"] = int(time.time())
            obj |= form
            obj.setdefault("metadata", {})
            if kind == "checkout.session":
                obj |= {"status": "open", "payment_status": "unpaid"}
                obj["url"] = f"{self.base_url}/pay/{obj_id}"
            elif kind == "billing_portal.session":
                obj["url"] = f"{self.base_url}/portal/{obj_id}"
            self.objects[obj_id] = obj
            if key:
                self._idempotent[key] = obj
            return _json(obj)

        return handler

    async def _update(self, request: web.Request) -> web.Response:
        form, refused = await self._record(request)
        if refused is not None:
            return refused
        obj = self.objects.get(request.match_info["id"])
        if obj is None:
            return _missing(request.match_info["id"])
        for name, value in form.items():
            obj[name] = value == "true" if value in ("true", "false") else value
        return _json(obj)

    async def _get(self, request: web.Request) -> web.Response:
        _, refused = await self._record(request)
        if refused is not None:
            return refused
        obj = self.objects.get(request.match_info["id"])
        return _json(obj) if obj is not None else _missing(request.match_info["id"])

    async def _delete_customer(self, request: web.Request) -> web.Response:
        """Stripe deletes the customer for good and cancels its subscriptions at once."""
        _, refused = await self._record(request)
        if refused is not None:
            return refused
        customer_id = request.match_info["id"]
        customer = self.objects.get(customer_id)
        if customer is None or customer.get("object") != "customer" or customer.get("deleted"):
            return _missing(customer_id, "customer")
        for obj in self.objects.values():
            if obj.get("object") == "subscription" and obj.get("customer") == customer_id:
                obj["status"] = "canceled"
        deleted = {"id": customer_id, "object": "customer", "deleted": True}
        self.objects[customer_id] = deleted
        return _json(deleted)


def _json(obj: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(
        body=orjson.dumps(obj),
        status=status,
        content_type="application/json",
        headers={"Request-Id": f"req_standin_{time.time_ns()}"},
    )


def _error(
    status: int, kind: str, message: str, param: str | None = None, code: str | None = None
) -> web.Response:
    error: dict[str, Any] = {"type": kind, "message": message}
    if param:
        error |= {"param": param, "code": code or "parameter_invalid"}
    elif code:
        error["code"] = code
    return _json({"error": error}, status)


def _missing(obj_id: str, kind: str = "object") -> web.Response:
    """Stripe's answer for an id it does not know (or no longer: a deleted customer)."""
    message = f"No such {kind}: '{obj_id}'"
    return _error(404, "invalid_request_error", message, "id", "resource_missing")


@asynccontextmanager
async def serve_stripe(
    server: StripeStandIn | None = None, port: int = 0
) -> AsyncIterator[StripeStandIn]:
    """Run the stand-in on loopback in the running event loop, on ``port`` (0: a free one;
    a test that starts with Stripe unreachable gives the port it configured)."""
    server = server or StripeStandIn()
    runner = web.AppRunner(server.app(), access_log=None)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    port = sock.getsockname()[1]
    site = web.SockSite(runner, sock)
    await site.start()
    server.base_url = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        await runner.cleanup()


@contextmanager
def run_stripe(server: StripeStandIn | None = None) -> Iterator[StripeStandIn]:
    """Run the stand-in on a free loopback port in a background thread with its own loop."""
    server = server or StripeStandIn()
    with in_thread(lambda: serve_stripe(server)):
        yield server
