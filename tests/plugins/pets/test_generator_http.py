"""Pet generation through an HTTP AI provider, against a small aiohttp server standing in for the
AI service, and the settings that choose the provider."""

from __future__ import annotations

import asyncio
import base64
import io
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pydantic
import pytest
from aiohttp import web
from PIL import Image, ImageDraw
from yarl import URL

from mengchong_plugins.pets.generation import build_generator
from mengchong_plugins.pets.generator import BuiltinGenerator, GenerationError, GenerationInput, PetGenerator
from mengchong_plugins.pets.generator_http import HttpGenerator
from mengchong_plugins.pets.generator_settings import GeneratorSettings
from mengchong_plugins.pets.settings import PetsSettings

SETTINGS = PetsSettings()


def striped_png() -> bytes:
    image = Image.new("RGB", (400, 300), "white")
    for left in range(0, 400, 80):
        ImageDraw.Draw(image).rectangle((left, 0, left + 39, 299), fill="black")
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def test_settings_choose_the_provider() -> None:
    assert isinstance(build_generator(SETTINGS), BuiltinGenerator)
    provider = GeneratorSettings(provider="http", http_url="https://ai.example.com:8443/pets")
    http = build_generator(PetsSettings(generator=provider))
    assert isinstance(http, HttpGenerator)
    assert isinstance(http, PetGenerator)
    assert http.name == "http:ai.example.com:8443"
    for bad in ({"provider": "http"}, {"provider": "http", "http_url": "ftp://x/y"}, {"timeout": 3}):
        with pytest.raises(pydantic.ValidationError):
            GeneratorSettings(**bad)
    assert "secret" not in repr(GeneratorSettings(api_key="secret"))


@dataclass
class FakeAi:
    """The stand-in AI service: answers call n with ``script[n]`` (the last one repeats)."""

    script: list[str]
    requests: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    url: str = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append((dict(request.headers), body))
        action = self.script[min(len(self.requests), len(self.script)) - 1]
        if action == "slow":
            async with asyncio.timeout(10):
                await self.release.wait()
        if action.isdigit():
            return web.json_response({"error": "busy"}, status=int(action))
        if action == "garbage":
            return web.Response(text="<html>oops", content_type="application/json")
        image = base64.b64decode(body["image_base64"])
        answer = (await BuiltinGenerator(SETTINGS).generate(GenerationInput(image, {}))).as_dict()
        answer.pop("generator")
        answer["species"] = body["user_selected_attributes"].get("species", "cat")
        if action == "wrong-species":
            answer["species"] = "bird"
        if action == "bad-shape":
            answer["appearance_features"].pop("palette")
        return web.json_response(answer)


@pytest.fixture
async def fake_ai(aiohttp_server: Any) -> AsyncIterator[FakeAi]:
    fake = FakeAi(script=["ok"])
    app = web.Application()
    app.router.add_post("/v1/pets/generate", fake.handle)
    server = await aiohttp_server(app)
    fake.url = str(server.make_url("/v1/pets/generate"))
    yield fake
    fake.release.set()


def http_generator(
    url: str, timeout: float = 5, retries: int = 2, session: Any = None, **settings: Any
) -> HttpGenerator:
    provider = GeneratorSettings(
        provider="http", http_url=url, http_timeout_seconds=timeout, http_retries=retries, api_key="k-123"
    )
    return HttpGenerator(PetsSettings(generator=provider, **settings), session, backoff_seconds=0.01)


async def test_http_provider_success(fake_ai: FakeAi) -> None:
    generator = http_generator(fake_ai.url)
    data = striped_png()
    try:
        result = await generator.generate(GenerationInput(data, {"species": "dog", "personality": "shy"}))
    finally:
        await generator.close()
    assert generator.name == f"http:127.0.0.1:{URL(fake_ai.url).port}"
    assert (result.generator, result.species, result.personality) == (generator.name, "dog", "shy")
    assert result.appearance_features["pattern"] == "striped"
    [(headers, body)] = fake_ai.requests
    assert headers["Authorization"] == "Bearer k-123"
    assert base64.b64decode(body["image_base64"]) == data
    assert body["image_mime_type"] == "image/png"
    assert body["user_selected_attributes"] == {"species": "dog", "personality": "shy"}


async def test_http_provider_retries_server_errors(fake_ai: FakeAi) -> None:
    fake_ai.script = ["503", "500", "ok"]
    async with aiohttp.ClientSession() as session:
        result = await http_generator(fake_ai.url, session=session).generate(GenerationInput(striped_png()))
        assert not session.closed
    assert result.appearance_features["pattern"] == "striped"
    assert len(fake_ai.requests) == 3


async def test_http_provider_gives_up_after_retries(fake_ai: FakeAi) -> None:
    fake_ai.script = ["502"]
    generator = http_generator(fake_ai.url, retries=1)
    with pytest.raises(GenerationError, match="after 2 attempts: HTTP 502"):
        await generator.generate(GenerationInput(striped_png()))
    await generator.close()
    assert len(fake_ai.requests) == 2


async def test_http_provider_timeout_is_retried_then_an_error(fake_ai: FakeAi) -> None:
    fake_ai.script = ["slow"]
    generator = http_generator(fake_ai.url, timeout=0.2, retries=2)
    with pytest.raises(GenerationError, match=r"after 3 attempts: .*Timeout"):
        await generator.generate(GenerationInput(striped_png()))
    await generator.close()
    assert len(fake_ai.requests) == 3


async def test_http_provider_unreachable_is_an_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    generator = http_generator(f"http://127.0.0.1:{port}/generate", retries=1)
    with pytest.raises(GenerationError, match="after 2 attempts"):
        await generator.generate(GenerationInput(striped_png()))
    await generator.close()


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ("garbage", "invalid JSON"),
        ("bad-shape", "malformed generation result: appearance_features.palette"),
        ("wrong-species", "made a bird, the user chose a cat"),
        ("404", "refused the photo: HTTP 404"),
    ],
)
async def test_http_provider_bad_answers_are_errors_without_retry(
    fake_ai: FakeAi, action: str, message: str
) -> None:
    fake_ai.script = [action, "ok"]
    generator = http_generator(fake_ai.url)
    with pytest.raises(GenerationError, match=message):
        await generator.generate(GenerationInput(striped_png(), {"species": "cat"}))
    await generator.close()
    assert len(fake_ai.requests) == 1


async def test_http_provider_checks_choices_before_calling(fake_ai: FakeAi) -> None:
    with pytest.raises(GenerationError, match="species"):
        await http_generator(fake_ai.url).generate(GenerationInput(striped_png(), {"species": "unicorn"}))
    assert fake_ai.requests == []
