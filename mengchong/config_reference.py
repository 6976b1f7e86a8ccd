"""The settings reference: a Markdown table of every key with its default, its environment
variable and its meaning, generated from the settings models (``mengchong config --reference``;
the README's tables are this output, kept in sync by a test)."""

from __future__ import annotations

import json
from collections.abc import Mapping

from pydantic import BaseModel, TypeAdapter

from mengchong.config import ENV_PREFIX, KERNEL_SECTIONS, Settings

TABLE_DEFAULT_LIMIT = 80  # longer defaults (whole catalogues) are shown as "(table)"


def reference_table(sections: Mapping[str, type[BaseModel]] | None = None) -> str:
    """Markdown table of every key of ``sections`` (the kernel's by default): its default, its
    environment variable and its meaning."""
    if sections is None:
        sections = {}
        for section, section_field in Settings.model_fields.items():
            model = section_field.annotation
            if section in KERNEL_SECTIONS and isinstance(model, type) and issubclass(model, BaseModel):
                sections[section] = model
    rows = ["| key | default | environment variable | meaning |", "|---|---|---|---|"]
    for section, model in sections.items():
        for key, info in model.model_fields.items():
            default = info.get_default(call_default_factory=True)
            plain = TypeAdapter(info.annotation).dump_python(default, mode="json", exclude_none=True)
            text = json.dumps(plain, ensure_ascii=False)
            shown = f"`{text}`" if len(text) <= TABLE_DEFAULT_LIMIT else "(table)"
            env = f"`{ENV_PREFIX}{section.upper()}__{key.upper()}`"
            rows.append(f"| `{section}.{key}` | {shown} | {env} | {info.description or ''} |")
    return "\n".join(rows)
