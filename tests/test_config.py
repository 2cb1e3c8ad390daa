"""Settings: defaults, environment, .env, and one clear line for a bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import DEFAULT_MODEL_PATH, SettingsError, load_settings


def test_defaults_point_at_the_bundled_model(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.model_path == DEFAULT_MODEL_PATH
    assert settings.n_gpu_layers == 0
    assert settings.discord_token is None
    assert settings.prompt_token_budget == settings.n_ctx - settings.max_reply_tokens


def test_environment_and_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("N_CTX=1024\nSYSTEM_PROMPT=Be brief.\nLOG_LEVEL=debug\n")
    monkeypatch.setenv("MAX_REPLY_TOKENS", "99")
    settings = load_settings()
    assert settings.n_ctx == 1024
    assert settings.system_prompt == "Be brief."
    assert settings.log_level == "DEBUG"
    assert settings.max_reply_tokens == 99


@pytest.mark.parametrize(
    ("name", "value"),
    [("N_CTX", "lots"), ("N_CTX", "16"), ("N_GPU_LAYERS", "-5"), ("TEMPERATURE", "hot"),
     ("LOG_LEVEL", "LOUD"), ("MAX_REPLY_TOKENS", "0"), ("SYSTEM_PROMPT", "x" * 9000)],
)
def test_bad_value_is_one_line_naming_the_setting(
        name: str, value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert name in message
    assert "\n" not in message


def test_reply_must_fit_the_context(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("N_CTX", "512")
    monkeypatch.setenv("MAX_REPLY_TOKENS", "512")
    with pytest.raises(SettingsError, match="MAX_REPLY_TOKENS"):
        load_settings()


def test_a_secret_is_never_echoed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    secret = "x" * 5000
    monkeypatch.setenv("DISCORD_TOKEN", secret)
    settings = load_settings()
    assert secret not in repr(settings)
    assert settings.discord_token is not None
    assert settings.discord_token.get_secret_value() == secret


def test_env_example_lists_every_setting() -> None:
    import re

    text = (Path(__file__).parent.parent / ".env.example").read_text()
    listed = set(re.findall(r"^#?\s*([A-Z_]+)=", text, re.M))
    from bot.config import Settings

    assert {name.upper() for name in Settings.model_fields} == listed
