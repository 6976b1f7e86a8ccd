"""The effective settings as an operator may see them (``mengchong config``, the console): every
secret replaced by ``***``: the JWT keys, the WeChat secret, a password in a service URL, and in
a plugin's section any key whose name says it is a secret."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel

from mengchong.config import Settings

HIDDEN = "***"
SECRET_NAME = re.compile(r"(secret|password|passwd|token|api_key|private_key)", re.IGNORECASE)


def without_password(url: str) -> str:
    """``url`` with the password of its user info (if any) replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, host = parts.netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:{HIDDEN}@{host}"))


def _hidden(value: Any, name: str) -> Any:
    if isinstance(value, dict):
        return {key: _hidden(item, str(key)) for key, item in value.items()}
    if isinstance(value, list):
        return [_hidden(item, name) for item in value]
    if isinstance(value, str):
        if SECRET_NAME.search(name):
            return HIDDEN if value else ""
        if "://" in value:
            return without_password(value)
    return value


def visible_settings(
    settings: Settings, plugin_sections: dict[str, BaseModel] | None = None
) -> dict[str, Any]:
    """The settings (and the plugins' sections, when given) with every secret hidden."""
    data = settings.model_dump(mode="json")
    data["auth"]["jwt_secret"] = HIDDEN if settings.auth.jwt_secret else ""
    data["auth"]["jwt_previous_keys"] = {kid: HIDDEN for kid in settings.auth.jwt_previous_keys}
    for name, section in (plugin_sections or {}).items():
        data[name] = section.model_dump(mode="json")
    return _hidden(data, "")
