from __future__ import annotations

from pathlib import Path

import pytest

from afterdark.config import ConfigError, load_settings, masked


def test_env_nested_and_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AFTERDARK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("AFTERDARK_LLM__BACKEND", "openai")
    monkeypatch.setenv("AFTERDARK_LLM__BASE_URL", "http://127.0.0.1:8001/v1/")
    monkeypatch.setenv("AFTERDARK_LLM__API_KEY", "sk-secret")
    settings = load_settings()
    assert settings.data_dir == tmp_path
    assert settings.llm.backend == "openai"
    assert settings.llm.base_url == "http://127.0.0.1:8001/v1"
    assert settings.resolved_database_url.endswith(f"{tmp_path}/afterdark.db")
    shown = masked(settings)
    assert shown["llm"]["api_key"] == "********"
    assert "sk-secret" not in repr(shown)


def test_wrong_value_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFTERDARK_SERVER__PORT", "not-a-port")
    with pytest.raises(ConfigError, match="AFTERDARK_SERVER__PORT"):
        load_settings()


def test_bad_url_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFTERDARK_LLM__BASE_URL", "localhost:8001")
    with pytest.raises(ConfigError, match="AFTERDARK_LLM__BASE_URL"):
        load_settings()


def test_toml_file_is_read_and_env_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "afterdark.toml").write_text('[llm]\nmodel = "from-file"\ncontext_size = 4096\n')
    monkeypatch.setenv("AFTERDARK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("AFTERDARK_LLM__CONTEXT_SIZE", "8192")
    settings = load_settings()
    assert settings.llm.model == "from-file"
    assert settings.llm.context_size == 8192


def test_database_password_is_masked() -> None:
    settings = load_settings(database_url="postgresql+asyncpg://app:hunter2@db/afterdark")
    assert masked(settings)["database_url"] == "postgresql+asyncpg://app:********@db/afterdark"


def test_production_requires_https_public_url() -> None:
    with pytest.raises(ConfigError, match="must be an https:// URL"):
        load_settings(environment="production")
    settings = load_settings(environment="production", server={"public_url": "https://a.example"})
    assert settings.secure_cookies


def test_configuration_reference_is_current() -> None:
    from afterdark.config_reference import settings_reference

    docs = Path(__file__).parent.parent / "docs" / "configuration.md"
    assert docs.read_text() == settings_reference(), (
        "run: afterdark config docs > docs/configuration.md"
    )
