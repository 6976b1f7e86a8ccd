"""The HTTP pet generator: hands the photo to an AI service (``[pets.generator] provider = "http"``).

``HttpGenerator`` POSTs the photo as JSON ``{"image_base64": <standard base64>, "image_mime_type":
"image/jpeg" | "image/png" | "image/webp", "user_selected_attributes": {...}}`` to ``http_url``
(``Authorization: Bearer <api_key>`` when one is set), retries 5xx answers, 429, timeouts and
connection failures with exponential backoff, and expects a JSON object of the result shape back
(``species``, ``personality``, ``appearance_features``, ``model_data``), its species and
personality among the configured ones. An answer that does not validate raises
``GenerationError``; nothing half-valid is ever returned.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import logging
from urllib.parse import urlsplit

import aiohttp
import orjson

from mengchong_plugins.pets.generator import (
    Choices,
    GenerationError,
    GenerationInput,
    GenerationResult,
    read_choices,
)
from mengchong_plugins.pets.settings import PetsSettings

log = logging.getLogger("mengchong.pets.generator")

MAX_ANSWER_BYTES = 1 << 20


class HttpGenerator:
    """An AI service behind HTTP (protocol in the module doc). Without a ``session`` it opens its
    own on first use; then call ``close()`` at shutdown."""

    def __init__(
        self,
        settings: PetsSettings,
        session: aiohttp.ClientSession | None = None,
        *,
        backoff_seconds: float = 0.5,
    ) -> None:
        parts = urlsplit(settings.generator.http_url)
        self.name = f"http:{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        self._settings = settings
        self._session = session
        self._owns_session = session is None
        self._backoff = backoff_seconds

    async def close(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def generate(self, request: GenerationInput) -> GenerationResult:
        provider = self._settings.generator
        choices = read_choices(request.user_selected_attributes, self._settings)
        body = orjson.dumps(
            {
                "image_base64": base64.b64encode(request.image).decode("ascii"),
                "image_mime_type": _mime_type(request.image),
                "user_selected_attributes": request.user_selected_attributes,
            }
        )
        headers = {"Content-Type": "application/json"}
        if provider.api_key:
            headers["Authorization"] = f"Bearer {provider.api_key}"
        if self._session is None:
            self._session = aiohttp.ClientSession()
        timeout = aiohttp.ClientTimeout(total=provider.http_timeout_seconds)
        attempts = provider.http_retries + 1
        failure = ""
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(self._backoff * 2 ** (attempt - 1))
            try:
                async with self._session.post(
                    provider.http_url, data=body, headers=headers, timeout=timeout
                ) as response:
                    if response.status >= 500 or response.status == 429:
                        failure = f"HTTP {response.status}"
                    elif response.status != 200:
                        raise GenerationError(f"{self.name} refused the photo: HTTP {response.status}")
                    else:
                        return self._parse(await _read_capped(response), choices)
            except (TimeoutError, aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
                failure = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            log.warning(
                "pet generator %s attempt %d/%d failed: %s", self.name, attempt + 1, attempts, failure
            )
        raise GenerationError(f"{self.name} failed after {attempts} attempts: {failure}")

    def _parse(self, raw: bytes, choices: Choices) -> GenerationResult:
        try:
            answer = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise GenerationError(f"{self.name} answered with invalid JSON") from exc
        if not isinstance(answer, dict):
            raise GenerationError(f"{self.name} answered with JSON that is not an object")
        result = GenerationResult.from_dict({**answer, "generator": self.name}, self._settings)
        if choices.species and result.species != choices.species:
            # model_data (the base model) depends on the species: this answer can't be patched.
            raise GenerationError(f"{self.name} made a {result.species}, the user chose a {choices.species}")
        if choices.personality and result.personality != choices.personality:
            return dataclasses.replace(result, personality=choices.personality)
        return result


def _mime_type(image: bytes) -> str:
    if image.startswith(b"\x89PNG"):
        return "image/png"
    if image[:4] == b"RIFF" and image[8:12] == b"WEBP":
        return "image/webp"
    return "image/jpeg"


async def _read_capped(response: aiohttp.ClientResponse) -> bytes:
    chunks, size = [], 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise GenerationError(f"answer larger than {MAX_ANSWER_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
