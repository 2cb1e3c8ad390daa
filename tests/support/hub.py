"""A Hugging Face Hub on 127.0.0.1, as `huggingface_hub` talks to it through HF_ENDPOINT:
the model API (`/api/models/...`), `resolve` answering HEAD with the hub's headers and a
redirect to the file's storage, and that storage answering GET with byte ranges.

Faults are real: a GET can be cut after so many bytes (the connection closes), the bytes
served can differ from the published SHA-256, a repository can be gated (401 without the
right token). Every request is recorded, so a test can see what the client asked for."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class HubFile:
    """One file of a repository: what the hub publishes, and what storage serves."""

    name: str
    data: bytes
    published_sha256: str = ""  # defaults to the data's own
    published_size: int | None = None  # defaults to the data's own

    def __post_init__(self) -> None:
        self.published_sha256 = self.published_sha256 or hashlib.sha256(self.data).hexdigest()


@dataclass
class FakeHub:
    """Repositories by id; faults to inject; the requests seen."""

    repos: dict[str, list[HubFile]] = field(default_factory=dict)
    gated: dict[str, str] = field(default_factory=dict)  # repo -> the token that opens it
    cut_after: int | None = None  # the next storage GET closes after this many bytes
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/api/models/{org}/{name}", self.api)
        app.router.add_get("/api/models/{org}/{name}/revision/{rev}", self.api)
        app.router.add_get("/{org}/{name}/resolve/{rev}/{file}", self.resolve)
        app.router.add_route("*", "/storage/{org}/{name}/{file}", self.storage)
        return app

    def _seen(self, request: web.Request) -> None:
        self.requests.append((request.method, request.path, dict(request.headers)))

    def _denied(self, request: web.Request, repo: str) -> web.Response | None:
        wanted = self.gated.get(repo)
        if wanted is None or request.headers.get("Authorization") == f"Bearer {wanted}":
            return None
        return web.Response(status=401, headers={"X-Error-Code": "GatedRepo",
                                                 "X-Error-Message": f"Access to {repo} is "
                                                 "restricted. You must be authenticated."},
                            text="gated")

    def _file(self, request: web.Request) -> tuple[str, HubFile] | None:
        repo = f"{request.match_info['org']}/{request.match_info['name']}"
        for item in self.repos.get(repo, []):
            if item.name == request.match_info["file"]:
                return repo, item
        return None

    async def api(self, request: web.Request) -> web.Response:
        self._seen(request)
        repo = f"{request.match_info['org']}/{request.match_info['name']}"
        denied = self._denied(request, repo)
        if denied is not None:
            return denied
        if repo not in self.repos:
            return web.Response(status=404, headers={"X-Error-Code": "RepoNotFound"})
        siblings = [{"rfilename": f.name, "size": f.published_size or len(f.data),
                     "lfs": {"sha256": f.published_sha256,
                             "size": f.published_size or len(f.data), "pointerSize": 134}}
                    for f in self.repos[repo]]
        return web.json_response({"id": repo, "modelId": repo, "sha": COMMIT,
                                  "private": False, "siblings": siblings, "tags": ["gguf"]})

    async def resolve(self, request: web.Request) -> web.Response:
        self._seen(request)
        found = self._file(request)
        repo = f"{request.match_info['org']}/{request.match_info['name']}"
        denied = self._denied(request, repo)
        if denied is not None:
            return denied
        if found is None:
            return web.Response(status=404, headers={"X-Error-Code": "EntryNotFound"})
        _, item = found
        storage = f"{request.url.origin()}/storage/{repo}/{item.name}"
        return web.Response(status=302, headers={
            "Location": storage, "X-Repo-Commit": COMMIT,
            "X-Linked-Etag": f'"{item.published_sha256}"', "ETag": '"pointer-etag"',
            "X-Linked-Size": str(item.published_size or len(item.data))})

    async def storage(self, request: web.Request) -> web.StreamResponse:
        self._seen(request)
        found = self._file(request)
        if found is None:
            return web.Response(status=404)
        data = found[1].data
        start = 0
        ranged = request.headers.get("Range", "")
        if ranged.startswith("bytes="):
            start = int(ranged[6:].split("-")[0] or 0)
        body = data[start:]
        status = 206 if start else 200
        # The hub's CDN is another host, which the client does not follow; this storage
        # shares the hub's host, so it answers with the hub's own headers as well.
        headers = {"Content-Length": str(len(body)), "Accept-Ranges": "bytes",
                   "ETag": f'"{found[1].published_sha256}"', "X-Repo-Commit": COMMIT,
                   "X-Linked-Size": str(found[1].published_size or len(data))}
        if start:
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        response = web.StreamResponse(status=status, headers=headers)
        await response.prepare(request)
        if request.method == "HEAD":
            return response
        if self.cut_after is not None:
            cut, self.cut_after = self.cut_after, None
            await response.write(body[:cut])
            assert request.transport is not None
            request.transport.close()  # the connection drops mid-file
            return response
        for i in range(0, len(body), 1 << 20):
            await response.write(body[i:i + (1 << 20)])
        await response.write_eof()
        return response

    def storage_gets(self) -> list[dict[str, str]]:
        """The headers of each GET of a file's bytes."""
        return [h for m, p, h in self.requests if m == "GET" and p.startswith("/storage/")]


def gguf_bytes(model_path: Path) -> bytes:
    """A real GGUF to serve: the bundled model's bytes."""
    return model_path.read_bytes()
