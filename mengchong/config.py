"""Typed settings: config.toml, overridden by MENGCHONG__SECTION__KEY environment variables.

The file is chosen by ``--config PATH``, else ``MENGCHONG_CONFIG``, else ``./config.toml``;
with none of them the built-in defaults below apply (they equal the shipped config.toml,
which a test keeps true). Plugins add their own sections through ``mengchong_settings``;
those are validated by :mod:`mengchong.plugin_sections` once the plugins are known.
Every failure is a :class:`ConfigError` whose message names the key, so the CLI can print
one clear line instead of a traceback. This module is the schema; reading the file and the
environment into it is :mod:`mengchong.config_loading`.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

ENV_PREFIX = "MENGCHONG__"
INSECURE_SECRETS = frozenset(
    {"", "change-me", "dev-secret-change-me", "dev-secret-change-me-before-production"}
)


class ConfigError(Exception):
    """A setting is missing, mistyped or unsafe; the message names the key."""


def url_schemes(*schemes: str, empty: str | None = None) -> Any:
    """A validator for ``url``: one of ``schemes``, or empty when ``empty`` says what that means."""

    def check(cls: type, value: str) -> str:
        if (not value and empty) or value.startswith(schemes):
            return value
        allowed = " or ".join(f"{s}..." for s in schemes)
        raise ValueError(
            f"must be empty ({empty}) or start with {allowed}" if empty else f"must start with {allowed}"
        )

    return field_validator("url")(check)


class Section(BaseModel):
    """Base of every settings section: unknown keys are errors, values are never coerced silently."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


class AppSettings(Section):
    env: Literal["development", "test", "production"] = Field(
        "development", description="production refuses unsafe settings (mock WeChat, default secret)"
    )
    timezone: str = Field(
        "Asia/Shanghai", description="local days (check-ins, daily caps) are days in this zone"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="JSON log lines on stderr"
    )
    public_url: str = Field(
        "",
        description="base of the URLs the API hands out, e.g. https://api.example.com; empty: the"
        " scheme, host and port each request came to (see server.trust_proxy)",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("public_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if value and (
            parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment
        ):
            raise ValueError("must be empty or an http:// or https:// URL without a query")
        return value


class ServerSettings(Section):
    host: str = Field("127.0.0.1", description="address to listen on (0.0.0.0 in the container)")
    port: int = Field(8080, ge=0, le=65535, description="TCP port")
    max_body_bytes: int = Field(1_048_576, ge=1024, description="larger request bodies get 413")
    shutdown_timeout: float = Field(10.0, gt=0, description="seconds in-flight requests get on SIGTERM")
    request_timeout_seconds: float = Field(
        10.0,
        ge=0,
        description="a request still running after this is cancelled (its transaction rolled back)"
        " and answered 503; 0: no deadline",
    )
    idle_timeout_seconds: float = Field(
        15.0, gt=0, description="an idle connection, or one slow to send a request's headers, is closed"
    )
    body_timeout_seconds: float = Field(
        30.0,
        gt=0,
        description="seconds a client has to send a body (408 after); not part of the request timeout",
    )
    access_log: bool = Field(True, description="one JSON line per request")
    trust_proxy: bool = Field(
        False,
        description="URLs the API hands out take their scheme and host from X-Forwarded-Proto and"
        " X-Forwarded-Host when app.public_url is empty (only behind a proxy that sets them;"
        " ratelimit.trust_forwarded_for does the same)",
    )


class DatabaseSettings(Section):
    url: str = Field(
        "sqlite://data/mengchong.sqlite3", description="sqlite://PATH or postgres://user:pass@host:5432/db"
    )
    pool_min: int = Field(1, ge=1, description="PostgreSQL pool: connections kept open")
    pool_max: int = Field(10, ge=1, description="PostgreSQL pool: most connections")
    connect_timeout_seconds: float = Field(5.0, gt=0, description="PostgreSQL: seconds to open a connection")
    statement_timeout_seconds: float = Field(
        5.0,
        ge=0,
        description="PostgreSQL cancels a statement running longer (its transaction rolls back); the"
        " client gives up 1 s later on a server that does not answer; 0: none. Not for migrations",
    )

    _url = url_schemes("sqlite://", "postgres://", "postgresql://", "asyncpg://")


class DocumentsSettings(Section):
    url: str = Field("", description="empty: the SQL table adapter; or mongodb://host:27017")
    database: str = Field("mengchong", description="MongoDB database name")

    _url = url_schemes("mongodb://", "mongodb+srv://", empty="the SQL adapter")


class CacheSettings(Section):
    url: str = Field("", description="empty: in-process; or redis://host:6379/0")
    prefix: str = Field("mengchong:", description="prefix of every key")
    connect_timeout_seconds: float = Field(2.0, gt=0, description="Redis: seconds to open a connection")
    command_timeout_seconds: float = Field(
        0.0,
        ge=0,
        description="Redis: seconds per command; 0: none, the request deadline bounds commands"
        " (a timer per command costs a cached read ~10-25 %)",
    )
    tcp_user_timeout_seconds: float = Field(
        10.0,
        ge=0,
        description="Redis: a connection whose sent data stays unacknowledged this long is dropped"
        " (host or network gone; Linux); 0: the OS default",
    )

    profiles: int = Field(
        10_000,
        ge=0,
        description="users whose profile each process keeps in memory, served while the user's"
        " row version in the cache is unchanged (0: every profile read queries the database);"
        " also the size of the leaderboards' kept users, pet cards and readers' pet ids, of the"
        " check-in statuses kept, and of the pets kept for reads by their id",
    )
    profile_max_age_seconds: float = Field(
        300.0,
        gt=0,
        description="longest a kept profile is served, even with its version unchanged (bounds a"
        " version delete lost to a Redis outage)",
    )

    _url = url_schemes("redis://", "rediss://", "unix://", empty="in-process")


class QueueSettings(Section):
    url: str = Field("", description="empty: in-process; or amqp://user:pass@host:5672/")
    prefix: str = Field("mengchong.", description="prefix of every queue name")
    max_attempts: int = Field(5, ge=1, description="deliveries before a message is dead-lettered")
    retry_base_seconds: float = Field(1.0, gt=0, description="retry backoff: base × 2^(attempt−1)")
    retry_max_seconds: float = Field(300.0, gt=0, description="longest retry backoff")
    prefetch: int = Field(16, ge=1, description="unacknowledged messages per consumer")
    depth_interval_seconds: float = Field(
        15.0, gt=0, description="how often each consumer's queue is counted for /metrics"
    )

    _url = url_schemes("amqp://", "amqps://", empty="in-process")


class FilesSettings(Section):
    root: str = Field("data/files", description="directory of uploaded files")


class WechatSettings(Section):
    mode: Literal["mock", "live"] = Field(
        "mock", description='mock: openid = "mock-" + code (refused in production); live: the WeChat API'
    )
    appid: str = Field("", description="mini program AppID")
    secret: str = Field("", description="mini program AppSecret")
    api_base: str = Field("https://api.weixin.qq.com", description="WeChat server API base URL")
    timeout_seconds: float = Field(5.0, gt=0, description="per WeChat API call")


class AuthSettings(Section):
    jwt_secret: str = Field(
        "dev-secret-change-me-before-production",
        description="HS256 signing key; production needs 32+ characters of your own",
    )
    jwt_kid: str = Field("k1", min_length=1, description="key id of jwt_secret, written in each token header")
    jwt_previous_keys: dict[str, str] = Field(
        default_factory=dict, description="older {kid = secret} still accepted, for key rotation"
    )
    jwt_issuer: str = Field("mengchong", description="the tokens' iss")
    jwt_audience: str = Field("mengchong-miniprogram", description="the tokens' aud")
    token_ttl_seconds: int = Field(604_800, ge=60, description="how long a token lives")
    admin_openids: list[str] = Field(default_factory=list, description="openids made admins at login")


class ModerationSettings(Section):
    words_file: str = Field("", description="sensitive-word list, one per line (empty: the built-in list)")
    wechat_check: bool = Field(
        False, description="also ask WeChat's msg_sec_check (needs wechat.mode = live)"
    )


def check_rate(value: str) -> str:
    from limits import parse  # imported here: settings load before anything else

    if value != "none":
        try:
            parse(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a rate like '60/minute' (or 'none')") from None
    return value


class RouteLimit(Section):
    """One route's limits. A rate is the route's own window, counted beside the client IP's or
    the user's total; ``"none"`` takes the route out of that side's limits (no window of its
    own and no count against the total); an omitted side counts against the total only."""

    per_ip: str | None = None
    per_user: str | None = None

    _rates = field_validator("per_ip", "per_user")(lambda cls, v: v if v is None else check_rate(v))


class RateLimitSettings(Section):
    enabled: bool = Field(True, description="off: no request is ever refused for its rate")
    strategy: Literal["fixed-window", "moving-window", "sliding-window-counter"] = Field(
        "sliding-window-counter", description="how requests are counted in time"
    )
    per_ip: str = Field("300/minute", description="limit per client IP, all routes together")
    per_user: str = Field("120/minute", description="limit per logged-in user, all routes together")
    trust_forwarded_for: bool = Field(
        False, description="client IP from X-Forwarded-For (only behind proxies that append to it)"
    )
    trusted_proxy_hops: int = Field(
        1,
        ge=1,
        le=16,
        description="proxies in front of us appending to X-Forwarded-For: the client IP is the hop"
        " this many from the right (fewer hops: the socket peer)",
    )
    exempt: list[str] = Field(
        default_factory=lambda: ["/healthz", "/readyz", "/metrics"], description="paths never limited"
    )
    fail_open: bool = Field(
        True,
        description="while the cache can't be reached, serve public reads (GET) without their per-IP"
        " limit (counted and logged); false: answer them 503 as every write",
    )
    routes: dict[str, RouteLimit] = Field(
        default_factory=lambda: {"POST /v1/auth/wechat_login": RouteLimit(per_ip="30/minute")},
        description='per-route limits keyed "METHOD /path/{template}": a rate is a window of the'
        " route's own beside the total, \"none\" exempts the route from that side's limits",
    )

    _rates = field_validator("per_ip", "per_user")(lambda cls, v: check_rate(v))


class EventsSettings(Section):
    relay_interval_seconds: float = Field(1.0, gt=0, description="how often the outbox relay looks")
    relay_batch: int = Field(100, ge=1, description="outbox rows relayed per round")
    relay_linger_seconds: float = Field(
        0.01,
        ge=0,
        le=1,
        description="how long the relay waits once a commit wakes it: one round for many commits",
    )
    keep_days: float = Field(
        7.0, gt=0, description="days relayed events and once-per-event marks are kept before pruning"
    )
    prune_interval_seconds: float = Field(3600.0, gt=0, description="how often old events are pruned")


class PluginsSettings(Section):
    enabled: list[str] = Field(
        default_factory=lambda: ["pets", "checkin", "mall", "leaderboard", "notifications"],
        description="domain plugins to load (see `mengchong plugins`)",
    )


class Settings(BaseModel):
    """All settings. Plugin sections stay raw in ``plugin_sections`` until their schema is known."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    app: AppSettings = AppSettings()
    server: ServerSettings = ServerSettings()
    database: DatabaseSettings = DatabaseSettings()
    documents: DocumentsSettings = DocumentsSettings()
    cache: CacheSettings = CacheSettings()
    queue: QueueSettings = QueueSettings()
    files: FilesSettings = FilesSettings()
    wechat: WechatSettings = WechatSettings()
    auth: AuthSettings = AuthSettings()
    moderation: ModerationSettings = ModerationSettings()
    ratelimit: RateLimitSettings = RateLimitSettings()
    events: EventsSettings = EventsSettings()
    plugins: PluginsSettings = PluginsSettings()
    plugin_sections: dict[str, dict[str, Any]] = Field(default_factory=dict)
    source: str = "built-in defaults"

    @model_validator(mode="after")
    def _consistent_and_safe(self) -> Settings:
        if self.auth.jwt_kid in self.auth.jwt_previous_keys:
            raise ValueError("auth.jwt_kid: also listed in auth.jwt_previous_keys")
        if self.app.env != "production":
            return self
        if self.auth.jwt_secret in INSECURE_SECRETS or len(self.auth.jwt_secret) < 32:
            raise ValueError("auth.jwt_secret: production needs a secret of at least 32 characters")
        for kid, secret in self.auth.jwt_previous_keys.items():
            if len(secret) < 32:
                raise ValueError(f"auth.jwt_previous_keys.{kid}: production needs at least 32 characters")
        if self.wechat.mode == "mock":
            raise ValueError('wechat.mode: "mock" is refused when app.env = "production"')
        if not (self.wechat.appid and self.wechat.secret):
            raise ValueError("wechat.appid / wechat.secret: required in production")
        return self


KERNEL_SECTIONS = frozenset(
    name for name in Settings.model_fields if name not in {"plugin_sections", "source"}
)
