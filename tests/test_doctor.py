"""The doctor's checks (bot/doctor.py): each passes on a sound setup and fails naming
the setting to change. Real things throughout: the bundled model, SQLite files and a
PostgreSQL server, aiohttp servers on 127.0.0.1 standing in for an inference server
and for Discord's API, sockets holding ports."""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot import doctor
from bot.config import Settings, load_settings
from bot.doctor import Check, Device, LlamaBuild, Status
from bot.store import SCHEMA_VERSION, Store

GOOD_TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GAbcde.abcdefghijklmnopqrstuvwxyz0123456789AB"


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def by_name(checks: list[Check], name: str) -> Check:
    found = [c for c in checks if c.name == name]
    assert len(found) == 1, checks
    return found[0]


def with_(settings: Settings, **changes: Any) -> Settings:
    """The fixture's settings with some changed, validated as at start-up."""
    return load_settings(**{**settings.model_dump(), **changes})


@asynccontextmanager
async def http_server(routes: dict[str, Callable[[web.Request], Awaitable[web.Response]]],
                      ) -> AsyncIterator[str]:
    """A real aiohttp server on 127.0.0.1; yields its base URL."""
    app = web.Application()
    for path, handler in routes.items():
        app.router.add_get(path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


# The whole run -----------------------------------------------------------------------------

async def test_defaults_pass(settings: Settings) -> None:
    """The bundled model, a SQLite file in tmp, no Discord, no WhatsApp: all green."""
    store = await Store.open(settings.database_path)
    await store.close()
    checks = await doctor.run_checks(settings, wait_s=2)
    assert not doctor.failed(checks), [c for c in checks if c.status is not Status.OK]
    assert [c.name for c in checks] == ["python", "llama-cpp", "gpu", "model", "model advice",
                                        "database", "backend", "discord", "whatsapp", "web",
                                        "ports"]
    model = by_name(checks, "model")
    assert model.status is Status.OK
    assert "llama" in model.summary and "checksum ok" in model.summary
    database = by_name(checks, "database")
    assert database.status is Status.OK
    assert f"schema version {SCHEMA_VERSION} (current), writable" in database.summary
    assert by_name(checks, "discord").status is Status.SKIP


async def test_the_write_probe_leaves_nothing_behind(settings: Settings) -> None:
    store = await Store.open(settings.database_path)
    await store.close()
    await doctor.check_database(settings)
    with sqlite3.connect(settings.database_path) as db:
        rows = db.execute("SELECT version FROM schema_version ORDER BY version").fetchall()
    assert rows == [(n,) for n in range(1, SCHEMA_VERSION + 1)]


async def test_a_database_not_created_yet_passes_and_stays_uncreated(
        settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "later" / "causette.db"
    check = await doctor.check_database(with_(settings, database_path=path))
    assert check.status is Status.OK and "not created yet" in check.summary
    assert not path.parent.exists()


async def test_a_broken_check_is_one_failed_line_among_the_others(
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(settings: Settings) -> Check:
        raise ImportError("bot.whatsapp is half-edited")

    async def broken_async(*args: Any) -> Check:
        raise RuntimeError("surprise")

    monkeypatch.setattr(doctor, "check_whatsapp", broken)
    monkeypatch.setattr(doctor, "check_database", broken_async)
    checks = await doctor.run_checks(settings, wait_s=2)
    assert len(checks) == 11
    for name, words in (("whatsapp", "half-edited"), ("database", "surprise")):
        check = by_name(checks, name)
        assert check.status is Status.FAIL and "the check itself broke" in check.summary
        assert words in check.summary
    assert by_name(checks, "model").status is Status.OK


async def test_diagnose_names_an_invalid_setting(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("N_CTX", "lots")
    checks = await doctor.diagnose()
    assert [(c.name, c.status, c.setting) for c in checks] == [
        ("settings", Status.FAIL, "N_CTX")]


def test_warnings_do_not_fail() -> None:
    assert not doctor.failed([Check("a", Status.OK, ""), Check("b", Status.WARN, ""),
                              Check("c", Status.SKIP, "")])
    assert doctor.failed([Check("a", Status.OK, ""), Check("b", Status.FAIL, "")])


# The model ---------------------------------------------------------------------------------

def test_missing_model_names_model_path(settings: Settings, tmp_path: Path) -> None:
    check = doctor.check_model(with_(settings, model_path=tmp_path / "nope.gguf"))
    assert check.status is Status.FAIL and check.setting == "MODEL_PATH"
    assert "not found" in check.summary


def test_a_file_that_is_not_gguf(settings: Settings, tmp_path: Path) -> None:
    bogus = tmp_path / "model.gguf"
    bogus.write_bytes(b"<html>not a model</html>")
    check = doctor.check_model(with_(settings, model_path=bogus))
    assert check.status is Status.FAIL and check.setting == "MODEL_PATH"


def test_context_past_the_trained_one_warns(settings: Settings) -> None:
    check = doctor.check_model(with_(settings, n_ctx=16384))
    assert check.status is Status.WARN and check.setting == "N_CTX"
    assert "8192" in check.summary


def test_more_memory_than_the_machine_has_fails(settings: Settings) -> None:
    check = doctor.check_model(with_(settings, kv_save_mb=1_048_576))  # 1 TiB kept for KV
    assert check.status is Status.FAIL
    assert "more than this machine's" in check.summary and "KV_SAVE_MB" in check.fix


def test_model_advice_names_the_largest_recommended_model_that_fits(
        settings: Settings) -> None:
    gib = 1 << 30
    roomy = doctor.check_model_advice(settings, ram_bytes=24 * gib)
    assert roomy.status is Status.OK
    assert "Qwen2.5 14B Instruct" in roomy.summary
    assert roomy.fix == ("`causette model pull bartowski/Qwen2.5-14B-Instruct-GGUF --file "
                         "Qwen2.5-14B-Instruct-Q4_K_M.gguf --use`")
    small = doctor.check_model_advice(settings, ram_bytes=5 * gib)
    assert "Llama 3.2 3B Instruct" in small.summary
    tiny = doctor.check_model_advice(settings, ram_bytes=1 * gib)
    assert "bundled default model is the one that fits" in tiny.summary and not tiny.fix


def test_kv_estimate_follows_n_ctx_and_n_parallel(settings: Settings, model_path: Path) -> None:
    info = doctor.read_gguf(model_path)
    one = doctor.kv_cache_bytes(info, with_(settings, n_ctx=1024, n_parallel=1))
    assert one == 1024 * 30 * 3 * (64 + 64) * 2  # SmolLM2-135M: 30 layers, 3 KV heads of 64
    assert doctor.kv_cache_bytes(info, with_(settings, n_ctx=2048, n_parallel=4)) == 8 * one


def test_the_openai_backend_needs_no_model(settings: Settings, tmp_path: Path) -> None:
    check = doctor.check_model(with_(settings, llm_backend="openai",
                                     model_path=tmp_path / "nope.gguf"))
    assert check.status is Status.SKIP


# llama-cpp-python and the GPU --------------------------------------------------------------

def test_the_installed_build_is_described(settings: Settings) -> None:
    check, build = doctor.check_llama_cpp(settings)
    assert check.status is Status.OK, check
    assert build is not None and "CPU" in build.backends
    # The pinned build ships libggml, whose C API lists the devices: never "unknown" here.
    assert build.devices is not None and any(d.kind == "CPU" for d in build.devices)


def _build(offload: bool, *devices: Device) -> LlamaBuild:
    return LlamaBuild(version="0.3.36", backends=("CPU", "CUDA") if offload else ("CPU",),
                      gpu_offload=offload, devices=devices, cpu_features=())


CPU = Device("CPU", "AMD EPYC", "CPU", 8 << 30, 8 << 30)
H100 = Device("CUDA0", "NVIDIA H100 80GB HBM3", "GPU", 79 << 30, 80 << 30)


@pytest.mark.parametrize(("layers", "build", "status", "words"), [
    (0, _build(False, CPU), Status.OK, "CPU-only build"),
    (0, _build(True, CPU, H100), Status.OK, "GPU offload possible on NVIDIA H100"),
    (-1, _build(True, CPU, H100), Status.OK, "every layer on NVIDIA H100"),
    (-1, _build(False, CPU), Status.WARN, "no GPU backend"),
    (12, _build(True, CPU), Status.WARN, "no GPU is visible"),
])
def test_gpu_offload_against_n_gpu_layers(settings: Settings, layers: int, build: LlamaBuild,
                                          status: Status, words: str) -> None:
    check = doctor.check_gpu(with_(settings, n_gpu_layers=layers), build)
    assert check.status is status and words in check.summary
    if status is Status.WARN:
        assert check.setting == "N_GPU_LAYERS"


# The database ------------------------------------------------------------------------------

async def test_unreachable_postgresql_names_database_url(settings: Settings) -> None:
    url = f"postgresql://causette:s3cret-pw@127.0.0.1:{closed_port()}/causette"
    check = await doctor.check_database(with_(settings, database_url=url), wait_s=3)
    assert check.status is Status.FAIL and check.setting == "DATABASE_URL"
    assert "s3cret-pw" not in check.summary + check.fix  # the password is never shown


async def test_postgresql_reachable_new_then_migrated(settings: Settings,
                                                      postgres_url: str) -> None:
    pg = with_(settings, database_url=postgres_url)
    fresh = await doctor.check_database(pg, wait_s=10)
    assert fresh.status is Status.OK, fresh
    assert f"schema version 0 of {SCHEMA_VERSION}, migrated at start-up" in fresh.summary
    store = await Store.connect(postgres_url, pool_size=1)
    try:
        migrated = await doctor.check_database(pg, wait_s=10)
        assert f"schema version {SCHEMA_VERSION} (current)" in migrated.summary
        assert await store.schema_version() == SCHEMA_VERSION  # the probe kept nothing
    finally:
        await store.close()


async def test_a_newer_schema_fails(settings: Settings) -> None:
    store = await Store.open(settings.database_path)
    await store.close()
    with sqlite3.connect(settings.database_path) as db:
        db.execute("INSERT INTO schema_version VALUES (?, 'later')", (SCHEMA_VERSION + 1,))
    check = await doctor.check_database(settings)
    assert check.status is Status.FAIL and "newer than this Causette" in check.summary


async def test_a_folder_as_database_path(settings: Settings, tmp_path: Path) -> None:
    check = await doctor.check_database(with_(settings, database_path=tmp_path))
    assert check.status is Status.FAIL and check.setting == "DATABASE_PATH"


async def test_a_database_path_under_proc_is_no_disk_problem(settings: Settings) -> None:
    check = await doctor.check_database(with_(settings,
                                              database_path=Path("/proc/causette.db")))
    assert (check.status, check.setting) == (Status.FAIL, "DATABASE_PATH")
    assert "virtual file system" in check.summary
    assert "disk space" not in check.fix and "real disk" in check.fix


async def test_a_file_that_is_not_sqlite_is_not_told_to_be_writable(
        settings: Settings, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("shopping list: eggs, flour, milk, and some more text\n" * 100)
    check = await doctor.check_database(with_(settings, database_path=notes))
    assert (check.status, check.setting) == (Status.FAIL, "DATABASE_PATH")
    assert "not a SQLite database" in check.fix and "writable" not in check.fix
    assert notes.read_text().startswith("shopping list")  # the probe changed nothing


# The inference backend ---------------------------------------------------------------------

@pytest.mark.parametrize("url", ["notaurl", "127.0.0.1:8000/v1", "http://"])
async def test_llm_base_url_without_a_scheme_says_so(settings: Settings, url: str) -> None:
    checks = await doctor.check_backend(with_(settings, llm_backend="openai", llm_base_url=url),
                                        wait_s=1)
    assert [(c.status, c.setting) for c in checks] == [(Status.FAIL, "LLM_BASE_URL")]
    assert "lacks http:// or https://" in checks[0].summary
    assert "LLM_BASE_URL=http://host:port/v1" in checks[0].fix

async def test_unreachable_llm_base_url_fails(settings: Settings) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    checks = await doctor.check_backend(with_(settings, llm_backend="openai", llm_base_url=url),
                                        wait_s=3)
    assert [(c.status, c.setting) for c in checks] == [(Status.FAIL, "LLM_BASE_URL")]
    assert url in checks[0].summary


async def _models(request: web.Request) -> web.Response:
    if request.headers.get("Authorization", "Bearer right") != "Bearer right":
        return web.json_response({"error": "bad key"}, status=401)
    return web.json_response({"object": "list", "data": [{"id": "smollm2", "object": "model"}]})


async def test_a_server_answering_models_passes(settings: Settings) -> None:
    async with http_server({"/v1/models": _models}) as base:
        down = f"http://127.0.0.1:{closed_port()}/v1"
        checks = await doctor.check_backend(with_(
            settings, llm_backend="openai", llm_base_url=f"{base}/v1, {down}"), wait_s=3)
        assert [c.status for c in checks] == [Status.OK, Status.FAIL]  # one line per server
        assert "smollm2" in checks[0].summary and down in checks[1].summary

        wrong_model = await doctor.check_backend(with_(
            settings, llm_backend="openai", llm_base_url=f"{base}/v1", llm_model="llama-70b"))
        assert [(c.status, c.setting) for c in wrong_model] == [(Status.WARN, "LLM_MODEL")]

        wrong_key = await doctor.check_backend(with_(
            settings, llm_backend="openai", llm_base_url=f"{base}/v1", llm_api_key="wrong"))
        assert [(c.status, c.setting) for c in wrong_key] == [(Status.FAIL, "LLM_API_KEY")]

        not_v1 = await doctor.check_backend(with_(
            settings, llm_backend="openai", llm_base_url=base))
        assert [(c.status, c.setting) for c in not_v1] == [(Status.FAIL, "LLM_BASE_URL")]


# Discord -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("token", "words"), [
    (f"Bot {GOOD_TOKEN}", "starts with 'Bot '"),
    (f'"{GOOD_TOKEN}"', "quotes"),
    ("1234567890123456789", "application (client) id"),
    ("abcdefghijklmnopqrstuvwxyzABCDEF", "client secret"),
    ("not-a-token", "three parts"),
    ("bm90IGFuIGlkIGF0IGFsbA.GAbcde.abcdefghijklmnopqrstuvwxyz0123456789AB", "not a bot's id"),
])
async def test_malformed_discord_token_fails_naming_it(settings: Settings, token: str,
                                                       words: str) -> None:
    checks = await doctor.check_discord(with_(settings, discord_token=token))
    assert [(c.status, c.setting) for c in checks] == [(Status.FAIL, "DISCORD_TOKEN")]
    assert words in checks[0].summary
    assert GOOD_TOKEN not in checks[0].summary + checks[0].fix  # never echoed


def test_a_well_formed_token_encodes_the_bot_id() -> None:
    assert doctor.token_problem(GOOD_TOKEN) is None
    assert doctor.token_bot_id(GOOD_TOKEN) == "123456789012345678"


async def test_discord_unreachable_is_only_a_warning(settings: Settings) -> None:
    api = f"http://127.0.0.1:{closed_port()}/api/v10"
    checks = await doctor.check_discord(with_(settings, discord_token=GOOD_TOKEN), 3, api)
    assert [c.status for c in checks] == [Status.WARN]
    assert "could not reach Discord" in checks[0].summary
    assert "123456789012345678" in checks[0].summary


def _discord(flags: int) -> dict[str, Callable[[web.Request], Awaitable[web.Response]]]:
    async def me(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bot {GOOD_TOKEN}":
            return web.json_response({"message": "401: Unauthorized", "code": 0}, status=401)
        return web.json_response({"id": "123456789012345678", "username": "Causette",
                                  "bot": True})

    async def application(request: web.Request) -> web.Response:
        return web.json_response({"id": "123456789012345678", "name": "Causette",
                                  "flags": flags})

    return {"/api/v10/users/@me": me, "/api/v10/applications/@me": application}


@pytest.mark.parametrize(("flags", "intent"), [
    (1 << 19, Status.OK),  # GATEWAY_MESSAGE_CONTENT_LIMITED: fewer than 100 servers
    (1 << 18, Status.OK),
    (1 << 15, Status.FAIL),  # only the members intent
])
async def test_discord_token_owner_and_message_content_intent(settings: Settings, flags: int,
                                                              intent: Status) -> None:
    async with http_server(_discord(flags)) as base:
        checks = await doctor.check_discord(with_(settings, discord_token=GOOD_TOKEN), 3,
                                            f"{base}/api/v10")
    assert [(c.name, c.status) for c in checks] == [("discord", Status.OK),
                                                     ("discord intent", intent)]
    assert "Causette (id 123456789012345678)" in checks[0].summary
    if intent is Status.FAIL:
        assert "Message Content Intent" in checks[1].fix


async def test_a_revoked_token_fails(settings: Settings) -> None:
    revoked = GOOD_TOKEN[:-2] + "ZZ"
    async with http_server(_discord(1 << 19)) as base:
        checks = await doctor.check_discord(with_(settings, discord_token=revoked), 3,
                                            f"{base}/api/v10")
    assert [(c.status, c.setting) for c in checks] == [(Status.FAIL, "DISCORD_TOKEN")]


# WhatsApp and ports ------------------------------------------------------------------------

def test_whatsapp_all_or_nothing(settings: Settings) -> None:
    assert doctor.check_whatsapp(settings).status is Status.SKIP
    half = doctor.check_whatsapp(with_(settings, whatsapp_app_secret="s"))
    assert half.status is Status.FAIL and half.setting == "WHATSAPP_VERIFY_TOKEN"
    assert "WHATSAPP_ACCESS_TOKEN" in half.summary
    full = doctor.check_whatsapp(with_(settings, whatsapp_app_secret="s",
                                       whatsapp_verify_token="v", whatsapp_access_token="a"))
    assert full.status is Status.OK


@contextmanager
def listening() -> Iterator[int]:
    """A port on 127.0.0.1 that something listens on."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def test_ports_free_and_taken(settings: Settings) -> None:
    assert [c.status for c in doctor.check_ports(settings)] == [Status.SKIP]
    free = closed_port()
    checks = doctor.check_ports(with_(settings, metrics_port=free))
    assert [(c.name, c.status) for c in checks] == [("port metrics", Status.OK)]
    with listening() as taken:
        checks = doctor.check_ports(with_(settings, metrics_port=taken))
        assert [(c.status, c.setting) for c in checks] == [(Status.FAIL, "METRICS_PORT")]
        assert "taken" in checks[0].summary
        webhook = doctor.check_ports(with_(settings, whatsapp_app_secret="s",
                                           whatsapp_port=taken))
        assert [(c.name, c.status, c.setting) for c in webhook] == [
            ("port webhook", Status.FAIL, "WHATSAPP_PORT")]


def test_the_webhook_host_must_be_this_machines(settings: Settings) -> None:
    checks = doctor.check_ports(with_(settings, whatsapp_app_secret="s",
                                      whatsapp_host="192.0.2.1"))  # TEST-NET: not ours
    assert [(c.status, c.setting) for c in checks] == [(Status.FAIL, "WHATSAPP_HOST")]


def test_webhook_and_metrics_on_one_port(settings: Settings) -> None:
    checks = doctor.check_ports(with_(settings, whatsapp_app_secret="s", whatsapp_port=9100,
                                      metrics_port=9100))
    assert [(c.status, c.setting) for c in checks] == [(Status.FAIL, "METRICS_PORT")]


# The web console ---------------------------------------------------------------------------

def test_the_console_beside_run_needs_its_token(settings: Settings) -> None:
    assert doctor.check_web(settings).status is Status.SKIP  # WEB_WITH_RUN=false
    missing = doctor.check_web(with_(settings, web_with_run=True, web_admin_token=None))
    assert (missing.status, missing.setting) == (Status.FAIL, "WEB_ADMIN_TOKEN")
    assert "WEB_WITH_RUN=true" in missing.summary
    short = doctor.check_web(with_(settings, web_with_run=True, web_admin_token="abc"))
    assert (short.status, short.setting) == (Status.WARN, "WEB_ADMIN_TOKEN")
    good = doctor.check_web(with_(settings, web_with_run=True,
                                  web_admin_token="a-long-enough-operator-token"))
    assert good.status is Status.OK


def test_the_consoles_port_taken_or_shared(settings: Settings) -> None:
    with listening() as taken:
        checks = doctor.check_ports(with_(settings, web_with_run=True, web_port=taken))
        assert [(c.name, c.status, c.setting) for c in checks] == [
            ("port web", Status.FAIL, "WEB_PORT")]
        assert "the web console" in checks[0].summary and "taken" in checks[0].summary
    free = closed_port()
    assert [(c.name, c.status) for c in doctor.check_ports(
        with_(settings, web_with_run=True, web_port=free))] == [("port web", Status.OK)]
    shared = doctor.check_ports(with_(settings, web_with_run=True, web_port=9100,
                                      metrics_port=9100))
    assert [(c.status, c.setting) for c in shared] == [(Status.FAIL, "WEB_PORT")]


async def test_run_checks_include_the_console(settings: Settings) -> None:
    checks = await doctor.run_checks(with_(settings, web_with_run=True, web_admin_token=None),
                                     wait_s=1)
    web = by_name(checks, "web")
    assert (web.status, web.setting) == (Status.FAIL, "WEB_ADMIN_TOKEN")
