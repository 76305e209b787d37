"""Settings: one tree, read from ``AFTERDARK_*`` environment variables and an optional TOML file.

Nested values use ``__``: ``AFTERDARK_LLM__BACKEND=openai``. The file is
``$AFTERDARK_DATA_DIR/afterdark.toml`` or the path in ``AFTERDARK_CONFIG_FILE``;
environment variables win over the file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from afterdark.credits.payments.settings import PaymentsSettings
from afterdark.images.settings import ImagesSettings
from afterdark.voice.settings import VoiceSettings


class ConfigError(Exception):
    """The configuration is invalid; the message names the setting and how to fix it."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LLMSettings(_Section):
    backend: str = Field(
        default="embedded",
        description="Which backend generates replies: 'embedded', 'openai' or a plug-in's name.",
    )
    model_path: Path | None = Field(
        default=None,
        description="embedded: a GGUF file to load; empty: the packaged SmolLM2-135M-Instruct.",
    )
    context_size: int = Field(default=2048, ge=256, le=1_048_576, description="Context window.")
    threads: int | None = Field(
        default=None, ge=1, le=256, description="embedded: CPU threads (default: all cores)."
    )
    base_url: str = Field(
        default="http://127.0.0.1:8001/v1",
        description="openai: the server's base URL, ending in /v1.",
    )
    api_key: SecretStr | None = Field(default=None, description="openai: bearer token, if any.")
    model: str = Field(default="", description="openai: model name sent with every request.")
    extra_headers: dict[str, str] = Field(
        default_factory=dict, description="openai: extra HTTP headers (e.g. OpenRouter's)."
    )
    extra_body: dict[str, Any] = Field(
        default_factory=dict,
        description="openai: extra JSON fields merged into every request (e.g. vLLM options).",
    )
    extended_samplers: bool = Field(
        default=True,
        description="openai: send min_p, top_k and repetition_penalty (vLLM, llama.cpp, "
        "KoboldCpp, OpenRouter accept them; turn off for servers that reject unknown fields).",
    )
    tokenizer_path: Path | None = Field(
        default=None,
        description="openai: a GGUF file whose vocabulary counts tokens; default: the packaged "
        "SmolLM2 vocabulary (an approximation for other models).",
    )
    connect_timeout: float = Field(default=10.0, gt=0, description="Seconds to connect.")
    first_token_timeout: float = Field(
        default=120.0, gt=0, description="Seconds to wait for the first token."
    )
    idle_timeout: float = Field(default=60.0, gt=0, description="Seconds allowed between tokens.")

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


class ServerSettings(_Section):
    host: str = Field(default="127.0.0.1", description="Interface to listen on.")
    port: int = Field(default=8000, ge=1, le=65535, description="TCP port.")
    public_url: str = Field(
        default="",
        description="URL users reach the app at; https:// there marks cookies Secure.",
    )


class ChatSettings(_Section):
    max_message_chars: int = Field(
        default=32_000, ge=1, le=1_000_000, description="Longest message a user may send."
    )
    flush_interval: float = Field(
        default=0.5, gt=0, le=10, description="Seconds between saves of a streaming reply."
    )
    generations_per_minute: int = Field(
        default=30,
        ge=1,
        le=100_000,
        description="Replies (send, regenerate, continue, "
        "impersonate) one user may start per minute.",
    )


class SecuritySettings(_Section):
    secret_key: SecretStr | None = Field(
        default=None,
        description="Signs CSRF tokens; generated into the data folder when unset.",
    )
    session_days: int = Field(default=30, ge=1, le=365, description="Login lifetime.")
    min_age: int = Field(default=18, ge=18, le=99, description="Minimum age at sign-up.")
    open_signup: bool = Field(default=True, description="Anyone may create an account.")
    login_attempts: int = Field(
        default=10,
        ge=1,
        le=10_000,
        description="Login tries per account (and per address) in 15 minutes.",
    )
    signups_per_hour: int = Field(
        default=20, ge=1, le=100_000, description="Sign-ups per client address per hour."
    )


class PrivacySettings(_Section):
    key_provider: str = Field(
        default="local", description="Wraps users' data keys: 'local' or a plug-in's name."
    )
    kek: SecretStr | None = Field(
        default=None,
        description="local: the key-encryption key, base64 of 32 random bytes.",
    )
    kek_file: Path | None = Field(
        default=None,
        description="local: a file holding the key-encryption key (base64); generated into "
        "the data folder outside production when neither this nor kek is set.",
    )


class AgeSettings(_Section):
    provider: Literal["none", "self_declaration", "signed"] = Field(
        default="none",
        description="Age assurance for adult content: 'signed' (an external verifier that "
        "calls back with a signed outcome), 'self_declaration' (single-user installs only) or "
        "'none' (adult content stays locked).",
    )
    signed_url: str = Field(
        default="", description="signed: the verifier's start page; users are sent there."
    )
    signed_secret: SecretStr | None = Field(
        default=None, description="signed: the HMAC-SHA256 key the verifier signs outcomes with."
    )
    callback_tolerance: int = Field(
        default=600, ge=30, le=86_400, description="signed: seconds a signed outcome stays valid."
    )


class LikenessSettings(_Section):
    protected_dir: Path | None = Field(
        default=None,
        description="A folder of photos of people whose likeness may never be uploaded: one "
        "photo per file (named after the person) or a subfolder of photos per person.",
    )
    threshold: float = Field(
        default=0.6,
        ge=0.2,
        le=1.0,
        description="Face distance at or below which two faces are the same person "
        "(128-d dlib encodings; same person measured 0.23-0.43, different 0.80-0.87).",
    )
    max_side: int = Field(
        default=1024,
        ge=256,
        le=4096,
        description="Pictures are scaled down to this many pixels on their long side "
        "before faces are looked for (detection time grows with the area).",
    )

    @field_validator("protected_dir")
    @classmethod
    def _protected_dir(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_dir():
            raise ValueError(f"{value} is not a folder")
        return value


class SafetySettings(_Section):
    real_people_file: Path | None = Field(
        default=None,
        description="A UTF-8 file of real people's names, one per line: sexual content naming "
        "them is refused (the names of likeness.protected_dir are added).",
    )
    warm_classifier: bool = Field(
        default=True,
        description="Load the hard-limit classifier in the background at start (it takes "
        "several seconds); off, it loads on first use.",
    )

    @field_validator("real_people_file")
    @classmethod
    def _names_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"{value} is not a file")
        return value


class MemorySettings(_Section):
    enabled: bool = Field(
        default=True,
        description="Remember across chats: summaries, extracted facts and retrieval of "
        "earlier messages into the prompt.",
    )
    embedder: str = Field(
        default="minilm",
        description="Embedding model for retrieval: minilm (all-MiniLM-L6-v2, 384-d, run with "
        "numpy), wordllama (static 256-d, fastest) or fake (tests only).",
    )
    top_k: int = Field(default=8, ge=0, le=100, description="Memories retrieved per reply.")
    token_budget: int = Field(
        default=400, ge=0, le=100_000, description="Prompt tokens memory may take per reply."
    )
    summary_every: int = Field(
        default=6,
        ge=1,
        le=1000,
        description="Update a conversation's rolling summary every this many replies.",
    )
    extract_facts: bool = Field(
        default=True, description="Extract facts with the chat model after each reply."
    )


class SparksSettings(_Section):
    enabled: bool = Field(
        default=True,
        description="Charge Sparks for replies per the price list, with a free daily allowance. "
        "Off: everything is free and no ledger entry is written.",
    )
    daily_allowance: int = Field(
        default=200,
        ge=0,
        le=1_000_000,
        description="Free Sparks granted at a user's first use each day (in their time zone).",
    )
    daily_cap: int = Field(
        default=400,
        ge=0,
        le=10_000_000,
        description="Free Sparks never pile up past this: the daily grant only tops up to it.",
    )
    reply_tokens_per_spark: int = Field(
        default=100,
        ge=1,
        le=1_000_000,
        description="A reply costs 1 Spark per this many tokens written (at least 1).",
    )
    picture_sparks: int = Field(
        default=20,
        ge=1,
        le=100_000,
        description="Sparks a picture costs (its identity re-rolls included).",
    )
    premium_picture_sparks: int = Field(
        default=40,
        ge=1,
        le=100_000,
        description="Sparks a picture made with the premium image model costs (where one is "
        "set up: images.premium_*); each user's first premium picture is free.",
    )
    speech_sparks_per_1000_chars: int = Field(
        default=2,
        ge=1,
        le=100_000,
        description="Sparks for speaking 1,000 characters of a message aloud (at least 1).",
    )
    transcription_sparks_per_minute: int = Field(
        default=1,
        ge=0,
        le=100_000,
        description="Sparks per started minute of speech turned into text (0: free).",
    )
    reservation_minutes: int = Field(
        default=30,
        ge=1,
        le=10_080,
        description="A reply's reservation is released after this long if the reply never "
        "finished (a crash).",
    )
    spark_price_cents: float = Field(
        default=0.5,
        ge=0,
        le=10_000,
        description="What one Spark costs in money, in cents of sparks.currency (for the "
        "price list).",
    )
    currency: str = Field(
        default="EUR", min_length=3, max_length=3, description="ISO 4217 currency code."
    )


class Settings(BaseSettings):
    """Every setting of an Afterdark instance."""

    model_config = SettingsConfigDict(
        env_prefix="AFTERDARK_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    environment: Literal["development", "production", "test"] = Field(
        default="development",
        description="'production' requires an https:// server.public_url, so cookies are Secure.",
    )
    data_dir: Path = Field(default=Path("data"), description="Database, keys and files.")
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL; empty means SQLite at DATA_DIR/afterdark.db. "
        "PostgreSQL: postgresql+asyncpg://user:pass@host/db",
    )
    seed_catalogue: bool = Field(default=True, description="Load the built-in characters.")
    llm: LLMSettings = Field(default_factory=LLMSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    chat: ChatSettings = Field(default_factory=ChatSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    age: AgeSettings = Field(default_factory=AgeSettings)
    likeness: LikenessSettings = Field(default_factory=LikenessSettings)
    safety: SafetySettings = Field(default_factory=SafetySettings)
    memory: MemorySettings = Field(default_factory=MemorySettings)
    sparks: SparksSettings = Field(default_factory=SparksSettings)
    payments: PaymentsSettings = Field(default_factory=PaymentsSettings)
    images: ImagesSettings = Field(default_factory=ImagesSettings)
    voice: VoiceSettings = Field(default_factory=VoiceSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=_config_file())
        return (init_settings, env_settings, toml)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if value and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite+aiosqlite:// or postgresql+asyncpg:// URL")
        return value

    @model_validator(mode="after")
    def _production(self) -> Settings:
        if self.environment == "production" and not self.secure_cookies:
            raise ValueError(
                "AFTERDARK_SERVER__PUBLIC_URL must be an https:// URL when "
                "AFTERDARK_ENVIRONMENT=production (login cookies must be Secure)"
            )
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'afterdark.db').resolve()}"

    @property
    def secure_cookies(self) -> bool:
        return self.server.public_url.startswith("https://")


def _config_file() -> Path:
    explicit = os.environ.get("AFTERDARK_CONFIG_FILE")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("AFTERDARK_DATA_DIR", "data")) / "afterdark.toml"


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment, turning validation errors into one clear message."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None


def describe_validation_error(exc: ValidationError) -> str:
    lines = ["Invalid configuration:"]
    for error in exc.errors():
        path = "__".join(str(part) for part in error["loc"]).upper()
        if path:
            lines.append(f"  AFTERDARK_{path}: {error['msg']} (got {error.get('input')!r})")
        else:
            lines.append(f"  {error['msg'].removeprefix('Value error, ')}")
    return "\n".join(lines)


SECRET_NAMES = ("api_key", "secret_key", "password")


def masked(settings: Settings) -> dict[str, Any]:
    """The effective settings as plain data, with secrets replaced by '********'."""
    data: dict[str, Any] = _mask(settings.model_dump(mode="json"))
    return data


def _mask(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _mask(v, k) for k, v in value.items()}
    if key in SECRET_NAMES and value:
        return "********"
    if key == "database_url" and isinstance(value, str) and "@" in value:
        scheme, _, rest = value.partition("://")
        creds, _, host = rest.rpartition("@")
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:********@{host}"
    return value
