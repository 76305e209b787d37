"""Premium pictures through the API, rendered by the ComfyUI stand-in: the premium workflow
is what ComfyUI is sent; every user's first premium picture is free (once, even when asked
for several times at once, and given back when it is not made), then it costs the premium
price; it needs the plan that unlocks it only where such a plan is on sale; and the price
list says what it costs. On SQLite and PostgreSQL where the database does the work.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from afterdark.accounts.models import User
from afterdark.app import create_app
from afterdark.config import Settings
from afterdark.credits.payments.models import StripeCustomer
from afterdark.images import nsfw
from afterdark.images.models import Picture
from afterdark.privacy.export import export_user
from afterdark.privacy.restore import import_user
from tests.conftest import make_settings, signup
from tests.support.comfyui_standin import ComfyStandIn, run_comfyui_standin

pytestmark = pytest.mark.xdist_group("postgres")

PREMIUM_MODEL = "premium-model.safetensors"
# A workflow of one's own for the premium model: the checkpoint it loads says it was used.
PREMIUM_WORKFLOW = {
    "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": PREMIUM_MODEL}},
    "2": {"class_type": "CLIPTextEncode", "inputs": {"text": "{{prompt}}", "clip": ["1", 1]}},
    "3": {
        "class_type": "EmptyLatentImage",
        "inputs": {"width": "{{width}}", "height": "{{height}}", "batch_size": 1},
    },
    "4": {
        "class_type": "KSampler",
        "inputs": {
            "seed": "{{seed}}",
            "steps": "{{steps}}",
            "model": ["1", 0],
            "positive": ["2", 0],
            "latent_image": ["3", 0],
        },
    },
    "5": {"class_type": "SaveImage", "inputs": {"filename_prefix": "premium", "images": ["4", 0]}},
}
PAYMENTS_ON = {"stripe_secret_key": "sk_test_x", "stripe_webhook_secret": "whsec_x"}


@pytest.fixture
def comfy() -> Iterator[ComfyStandIn]:
    with run_comfyui_standin() as server:
        yield server


def premium_settings(
    tmp_path: Path,
    comfy: ComfyStandIn,
    database_url: str | None = None,
    *,
    premium_workflow: str = "premium",
    **overrides: Any,
) -> Settings:
    workflows = tmp_path / "workflows"
    workflows.mkdir(parents=True, exist_ok=True)
    (workflows / "premium.json").write_text(json.dumps(PREMIUM_WORKFLOW), encoding="utf-8")
    values: dict[str, Any] = {
        "sparks": {"enabled": True},
        "images": {
            "backend": "comfyui",
            "base_url": comfy.base_url,
            "workflow": "sdxl_basic",
            "premium_workflow": premium_workflow,
            "workflows_dir": workflows,
            "width": 64,
            "height": 64,
            "steps": 2,
            "max_tries": 1,
        },
    }
    if database_url is not None:
        values["database_url"] = database_url
    values.update(overrides)
    return make_settings(tmp_path, "http://127.0.0.1:9/v1", **values)


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """The app on ASGI with one signed-up user."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            await signup(http)
            yield http, application


async def character(http: httpx.AsyncClient) -> int:
    made = await http.post(
        "/api/v1/characters",
        json={"name": "Mara Quill", "age": 34, "first_message": "There you are."},
    )
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


async def ask(http: httpx.AsyncClient, cid: int, **body: Any) -> dict[str, Any]:
    asked = await http.post(f"/api/v1/characters/{cid}/pictures", json=body)
    assert asked.status_code == 202, asked.text
    return dict(asked.json())


async def finished(http: httpx.AsyncClient, app: Any, picture_id: int) -> dict[str, Any]:
    await app.state.runtime.pictures.jobs.drain()
    got = await http.get(f"/api/v1/pictures/{picture_id}")
    assert got.status_code == 200, got.text
    return dict(got.json())


async def balance(http: httpx.AsyncClient) -> int:
    sparks = (await http.get("/api/v1/me/sparks")).json()
    return int(sparks["free"]) + int(sparks["wallet"])


async def premium_status(http: httpx.AsyncClient) -> dict[str, Any]:
    status = await http.get("/api/v1/images/status")
    assert status.status_code == 200, status.text
    return dict(status.json()["premium"])


def checkpoints(comfy: ComfyStandIn) -> list[str]:
    """The checkpoints the last queued graph loads."""
    graph = comfy.prompts[-1]["prompt"]
    return [
        node["inputs"]["ckpt_name"]
        for node in graph.values()
        if node["class_type"] == "CheckpointLoaderSimple"
    ]


async def test_the_first_premium_picture_is_free_and_the_next_costs_the_premium_price(
    tmp_path: Path, database_url: str, comfy: ComfyStandIn
) -> None:
    async with running(premium_settings(tmp_path, comfy, database_url)) as (http, app):
        assert await premium_status(http) == {
            "offered": True,
            "unlocked": True,  # payments are off: nothing needs a plan
            "free_left": 1,
            "sparks": 40,
        }
        cid = await character(http)
        before = await balance(http)

        first = await ask(http, cid, request="by the window", premium=True)
        assert (first["premium"], first["free_premium"]) == (True, True)
        assert await balance(http) == before  # nothing held for the free one
        assert (await premium_status(http))["free_left"] == 0
        done = await finished(http, app, first["id"])
        assert (done["status"], done["sparks"]) == ("done", 0)
        assert checkpoints(comfy) == [PREMIUM_MODEL]
        assert await balance(http) == before

        second = await ask(http, cid, request="on the pier", premium=True)
        assert (second["premium"], second["free_premium"]) == (True, False)
        assert await balance(http) == before - 40  # held while it renders
        done = await finished(http, app, second["id"])
        assert (done["status"], done["sparks"]) == ("done", 40)
        assert checkpoints(comfy) == [PREMIUM_MODEL]
        assert await balance(http) == before - 40

        usual = await ask(http, cid, request="in the garden")
        assert (usual["premium"], usual["free_premium"]) == (False, False)
        done = await finished(http, app, usual["id"])
        assert (done["status"], done["sparks"]) == ("done", 20)
        assert PREMIUM_MODEL not in checkpoints(comfy)  # the usual workflow's own model
        assert await balance(http) == before - 60

        # Another one of a premium picture is premium again; unless asked otherwise.
        again = await http.post(f"/api/v1/pictures/{second['id']}/regenerate")
        assert again.status_code == 202, again.text
        done = await finished(http, app, again.json()["id"])
        assert (done["premium"], done["sparks"]) == (True, 40)
        assert checkpoints(comfy) == [PREMIUM_MODEL]
        plain = await http.post(
            f"/api/v1/pictures/{second['id']}/regenerate", json={"premium": False}
        )
        done = await finished(http, app, plain.json()["id"])
        assert (done["premium"], done["sparks"]) == (False, 20)
        assert await balance(http) == before - 120

        lines = (await http.get("/api/v1/me/sparks/transactions")).json()
        charged = [(line["action"], line["sparks"]) for line in lines if line["kind"] == "spend"]
        assert charged == [
            ("image.picture", -20),
            ("image.premium_picture", -40),
            ("image.picture", -20),
            ("image.premium_picture", -40),
        ]
        assert {line["what"] for line in lines if line["action"] == "image.premium_picture"} == {
            "A picture of a character made with the premium image model"
        }

        # Which model made each picture travels in the account export.
        runtime = app.state.runtime
        async with runtime.database.session() as session:
            owner = await session.scalar(select(User))
            assert owner is not None
            data = await export_user(session, runtime.files, owner)
            restored = await import_user(
                session, runtime.files, data, password="new password 1", email="kim@example.com"
            )
            await session.commit()
            kinds = await session.scalars(
                select(Picture.premium).where(Picture.user_id == restored.id).order_by(Picture.id)
            )
            assert list(kinds) == [True, True, False, True, False]


async def test_premium_pictures_asked_for_at_once_take_the_free_one_once(
    tmp_path: Path, database_url: str, comfy: ComfyStandIn
) -> None:
    async with running(premium_settings(tmp_path, comfy, database_url)) as (http, app):
        cid = await character(http)
        before = await balance(http)

        asked = await asyncio.gather(
            *(
                http.post(f"/api/v1/characters/{cid}/pictures", json={"premium": True})
                for _ in range(5)
            )
        )

        assert [a.status_code for a in asked] == [202] * 5, [a.text for a in asked]
        pictures = [a.json() for a in asked]
        assert sorted(p["free_premium"] for p in pictures) == [False] * 4 + [True]
        assert await balance(http) == before - 4 * 40
        await app.state.runtime.pictures.jobs.drain()
        made = [await finished(http, app, p["id"]) for p in pictures]
        assert [p["status"] for p in made] == ["done"] * 5
        assert sorted(p["sparks"] for p in made) == [0, 40, 40, 40, 40]
        assert await balance(http) == before - 4 * 40
        assert (await premium_status(http))["free_left"] == 0
        async with app.state.runtime.database.session() as session:
            left = await session.scalar(select(User.free_premium_pictures))
            free = await session.scalar(
                select(func.count()).select_from(Picture).where(Picture.free_premium.is_(True))
            )
        assert (left, free) == (0, 1)


async def test_a_premium_picture_not_made_gives_the_free_one_back(
    tmp_path: Path, database_url: str, comfy: ComfyStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running(premium_settings(tmp_path, comfy, database_url)) as (http, app):
        cid = await character(http)
        before = await balance(http)

        # Failed: ComfyUI reports an error.
        comfy.execution_error = "CUDA out of memory"
        failed = await ask(http, cid, premium=True)
        assert failed["free_premium"] is True
        done = await finished(http, app, failed["id"])
        assert done["status"] == "failed"
        assert "CUDA out of memory" in done["error"]
        assert (done["free_premium"], done["sparks"]) == (False, 0)
        assert (await premium_status(http))["free_left"] == 1
        assert checkpoints(comfy) == [PREMIUM_MODEL]
        comfy.execution_error = None

        # Withheld: the classifier finds it explicit, which this account has not turned on.
        async def explicit(image: bytes, threshold: float) -> nsfw.NsfwResult:
            return nsfw.NsfwResult(detections=(), explicit=True)

        with monkeypatch.context() as patched:
            patched.setattr(nsfw, "classify_async", explicit)
            withheld = await ask(http, cid, premium=True)
            assert withheld["free_premium"] is True
            done = await finished(http, app, withheld["id"])
        assert done["status"] == "withheld"
        assert (await premium_status(http))["free_left"] == 1

        # Left half-made by a server stop: marked failed at the next start, given back.
        runtime = app.state.runtime
        async with runtime.database.session() as session:
            user = await session.scalar(select(User))
            assert user is not None
            stranded = await runtime.pictures.ask(
                session, user, cid, request="", premium_model=True
            )
            await session.commit()
        assert stranded.free_premium is True
        assert (await premium_status(http))["free_left"] == 0
        assert await runtime.pictures.recover() == 1
        assert (await premium_status(http))["free_left"] == 1

        # The free one is still there: the next premium picture takes it and is made.
        made = await ask(http, cid, premium=True)
        assert made["free_premium"] is True
        done = await finished(http, app, made["id"])
        assert (done["status"], done["sparks"], done["free_premium"]) == ("done", 0, True)
        assert (await premium_status(http))["free_left"] == 0
        assert await balance(http) == before


async def test_premium_needs_the_plan_where_one_offering_it_is_on_sale(
    tmp_path: Path, comfy: ComfyStandIn
) -> None:
    # Payments on, and the default plan unlocks the premium image model.
    async with running(premium_settings(tmp_path, comfy, payments=PAYMENTS_ON)) as (http, app):
        status = await premium_status(http)
        assert (status["offered"], status["unlocked"], status["free_left"]) == (True, False, 1)
        cid = await character(http)
        before = await balance(http)

        free = await ask(http, cid, premium=True)  # the free one needs no plan
        assert (await finished(http, app, free["id"]))["status"] == "done"

        refused = await http.post(f"/api/v1/characters/{cid}/pictures", json={"premium": True})
        assert refused.status_code == 402
        assert refused.json()["error"]["code"] == "payment_required"
        message = refused.json()["error"]["message"]
        assert "The premium image model comes with a plan" in message
        assert "free premium picture is used" in message
        assert await balance(http) == before
        usual = await ask(http, cid)  # an ordinary picture needs no plan
        assert (await finished(http, app, usual["id"]))["status"] == "done"
        async with app.state.runtime.database.session() as session:
            count = await session.scalar(select(func.count()).select_from(Picture))
            user = await session.scalar(select(User))
            assert user is not None
            session.add(
                StripeCustomer(
                    user_id=user.id, customer_id="cus_premium", plan="plus", plan_status="active"
                )
            )
            await session.commit()
        assert count == 2  # the refused one was not recorded

        # With the plan: unlocked, at the premium price.
        assert (await premium_status(http))["unlocked"] is True
        paid = await ask(http, cid, premium=True)
        done = await finished(http, app, paid["id"])
        assert (done["status"], done["sparks"]) == ("done", 40)
        assert checkpoints(comfy) == [PREMIUM_MODEL]
        assert await balance(http) == before - 20 - 40


async def test_premium_needs_no_plan_where_none_offering_it_is_on_sale(
    tmp_path: Path, comfy: ComfyStandIn
) -> None:
    voice_only = [
        {
            "key": "voice",
            "name": "Voice",
            "monthly_sparks": 100,
            "amount_cents": 499,
            "unlocks": ["voice"],
        }
    ]
    settings = premium_settings(tmp_path, comfy, payments=PAYMENTS_ON | {"plans": voice_only})
    async with running(settings) as (http, app):
        assert (await premium_status(http))["unlocked"] is True
        cid = await character(http)
        before = await balance(http)
        for expected in (0, 40):
            picture = await ask(http, cid, premium=True)
            done = await finished(http, app, picture["id"])
            assert (done["status"], done["sparks"]) == ("done", expected)
        assert await balance(http) == before - 40


async def test_premium_is_offered_only_with_a_premium_model_and_priced_on_the_list(
    tmp_path: Path, comfy: ComfyStandIn
) -> None:
    async with running(premium_settings(tmp_path / "on", comfy)) as (http, _):
        prices = (await http.get("/api/v1/pricing")).json()
        lines = {line["action"]: line for line in prices["lines"]}
        assert list(lines) == [
            "chat.reply",
            "image.picture",
            "image.premium_picture",
            "voice.speech",
            "voice.transcription",
        ]
        premium = lines["image.premium_picture"]
        assert premium["sparks"].startswith(
            "40 Sparks a picture; your first premium picture is free"
        )
        assert premium["example"] == "one premium picture costs 40 Sparks (0.20 EUR)"

    # The same backend without a premium workflow: no choice, no price line, a clear refusal.
    plain = premium_settings(tmp_path / "off", comfy, premium_workflow="")
    async with running(plain) as (http, _):
        status = await premium_status(http)
        assert (status["offered"], status["unlocked"], status["free_left"]) == (False, False, 1)
        prices = (await http.get("/api/v1/pricing")).json()
        assert "image.premium_picture" not in [line["action"] for line in prices["lines"]]
        cid = await character(http)
        refused = await http.post(f"/api/v1/characters/{cid}/pictures", json={"premium": True})
        assert refused.status_code == 422
        assert "no premium image model" in refused.json()["error"]["message"]
        assert (await premium_status(http))["free_left"] == 1
