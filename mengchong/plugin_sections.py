"""Plugin settings: each plugin's ``[section]`` validated by its ``mengchong_settings`` model when the
app is built, and handed back typed by :func:`plugin_settings`.

A section of an enabled plugin is validated (a bad value is a :class:`ConfigError` naming the key);
a section of an installed but disabled plugin is kept and ignored, so turning a plugin off is one
line in ``[plugins] enabled``; any other section is an error naming it and the known ones.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TypeVar

import pluggy
from aiohttp import web
from pydantic import BaseModel, ValidationError

from mengchong.config import KERNEL_SECTIONS, ConfigError, Settings
from mengchong.config_loading import format_validation_error
from mengchong.keys import plugin_settings_key
from mengchong.plugin_manager import disabled_plugin_sections

ModelT = TypeVar("ModelT", bound=BaseModel)


def validate_plugin_sections(
    settings: Settings,
    schemas: Mapping[str, type[BaseModel]],
    disabled: Collection[str] = (),
) -> dict[str, BaseModel]:
    """Each enabled plugin's section against its schema (defaults when absent), by section name.

    ``disabled`` are the sections of installed plugins that are not enabled: accepted unread.
    A section neither claims is an error.
    """
    unknown = sorted(set(settings.plugin_sections) - set(schemas) - set(disabled))
    if unknown:
        known = ", ".join(sorted(KERNEL_SECTIONS | set(schemas) | set(disabled)))
        raise ConfigError(f"{unknown[0]}: unknown section (no such setting or plugin; known: {known})")
    validated: dict[str, BaseModel] = {}
    for name, schema in schemas.items():
        try:
            validated[name] = schema(**settings.plugin_sections.get(name, {}))
        except ValidationError as exc:
            raise ConfigError(format_validation_error(exc, prefix=f"{name}.")) from None
    return validated


def load_plugin_settings(settings: Settings, pm: pluggy.PluginManager) -> dict[str, BaseModel]:
    """The sections of the plugins registered in ``pm``, validated (see :func:`validate_plugin_sections`).

    Disabled plugins are imported only to claim the sections the enabled ones leave unclaimed.
    """
    schemas = dict(schema for schema in pm.hook.mengchong_settings() if schema is not None)
    unclaimed = set(settings.plugin_sections) - set(schemas)
    disabled = disabled_plugin_sections(pm, unclaimed) if unclaimed else {}
    return validate_plugin_sections(settings, schemas, disabled)


def plugin_settings(app: web.Application, model: type[ModelT]) -> ModelT:
    """The app's validated settings of the plugin whose ``mengchong_settings`` returned ``model``.

    Raises LookupError when no enabled plugin registered that model (a plugin asking for the
    settings of a disabled one, say).
    """
    sections = app[plugin_settings_key]
    for value in sections.values():
        if isinstance(value, model):
            return value
    registered = ", ".join(f"{name} ({type(value).__name__})" for name, value in sections.items())
    raise LookupError(
        f"{model.__module__}.{model.__qualname__} is not the settings model of an enabled plugin "
        f"(registered: {registered or 'none'})"
    )
