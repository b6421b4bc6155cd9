"""A Kubernetes API server for tests (no kube-apiserver can run here), which the real
`kubernetes` client talks to over HTTP.

A generic object store for namespaced resources under `/api/v1` and `/apis/GROUP/VERSION`:
create, get, list, replace (409 on a stale resourceVersion), merge-patch, delete, and watch
streams (`?watch=true&resourceVersion=N`, chunked JSON lines, `timeoutSeconds`). Every write
bumps a global resourceVersion, as etcd does.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.net import LocalServer

_PATH = re.compile(r"^/(?:api/(?P<core>v1)|apis/(?P<group>[^/]+)/(?P<version>[^/]+))/namespaces/(?P<ns>[^/]+)/"
                   r"(?P<plural>[^/]+)(?:/(?P<name>[^/]+))?(?:/(?P<sub>status))?$")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


class FakeKube(LocalServer):
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}  # (api/plural, ns, name) -> object
        self.events: list[tuple[int, str, str, dict[str, Any]]] = []  # (rv, type, kind key, object)
        self.rv = 100
        self.log: list[str] = []
        self.fail_watches = 0  # close the next N watch streams at once (a flaky apiserver)
        self._cond = threading.Condition()
        self._serve()

    def __exit__(self, *exc: object) -> None:
        with self._cond:
            self._cond.notify_all()
        super().__exit__(*exc)

    # --- direct access for tests and simulators ------------------------------------------------
    def put(self, kind: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Create or replace `obj` (kind is "apps/plural", e.g. "argoproj.io/v1alpha1/rollouts")."""
        with self._cond:
            meta = obj.setdefault("metadata", {})
            key = (kind, meta.get("namespace", "default"), meta["name"])
            event = "MODIFIED" if key in self.objects else "ADDED"
            return self._store(kind, key, obj, event)

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        with self._cond:
            obj = self.objects.get((kind, namespace, name))
            return copy.deepcopy(obj) if obj else None

    def patch(self, kind: str, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        with self._cond:
            key = (kind, namespace, name)
            return self._store(kind, key, merge_patch(self.objects[key], patch), "MODIFIED")

    def _store(self, kind: str, key: tuple[str, str, str], obj: dict[str, Any], event: str) -> dict[str, Any]:
        self.rv += 1
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = str(self.rv)
        obj["metadata"].setdefault("namespace", key[1])
        obj["metadata"].setdefault("uid", f"uid-{key[2]}-{self.rv}")
        previous = self.objects.get(key)
        generation = int((previous or obj)["metadata"].get("generation", 0) or 0)
        if previous is None:
            generation = max(generation, 1)
        elif previous.get("spec") != obj.get("spec"):
            generation += 1  # as the apiserver does: only spec changes move the generation
        obj["metadata"]["generation"] = generation
        self.objects[key] = obj
        self.events.append((self.rv, event, kind, copy.deepcopy(obj)))
        self._cond.notify_all()
        return copy.deepcopy(obj)

    # --- HTTP ---------------------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        kube = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def reply(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def status(self, code: int, reason: str, message: str) -> None:
                self.reply(code, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message,
                                  "reason": reason, "code": code})

            def body(self) -> Any:
                n = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(n)) if n else None

            def do_GET(self) -> None:  # noqa: N802
                self.route()

            def do_POST(self) -> None:  # noqa: N802
                self.route()

            def do_PUT(self) -> None:  # noqa: N802
                self.route()

            def do_PATCH(self) -> None:  # noqa: N802
                self.route()

            def do_DELETE(self) -> None:  # noqa: N802
                self.route()

            def route(self) -> None:
                url = urlsplit(self.path)
                query = parse_qs(url.query)
                kube.log.append(f"{self.command} {self.path}")
                m = _PATH.match(url.path)
                if not m:
                    return self.status(404, "NotFound", f"the server could not find {url.path}")
                api = m["core"] or f"{m['group']}/{m['version']}"
                kind, ns, name = f"{api}/{m['plural']}", m["ns"], m["name"]
                if name is None and self.command == "GET":
                    if (query.get("watch") or ["false"])[0] in ("true", "1"):
                        return self.watch(kind, ns, query)
                    return self.list(kind, ns)
                if name is None and self.command == "POST":
                    obj = self.body()
                    if (kind, ns, obj["metadata"]["name"]) in kube.objects:
                        return self.status(409, "AlreadyExists", f"{obj['metadata']['name']} already exists")
                    obj["metadata"]["namespace"] = ns
                    return self.reply(201, kube.put(kind, obj))
                with kube._cond:
                    key = (kind, ns, name)
                    current = kube.objects.get(key)
                    if current is None:
                        return self.status(404, "NotFound", f'{m["plural"]} "{name}" not found')
                    if self.command == "GET":
                        return self.reply(200, copy.deepcopy(current))
                    if self.command == "DELETE":
                        del kube.objects[key]
                        kube.rv += 1
                        kube.events.append((kube.rv, "DELETED", kind, copy.deepcopy(current)))
                        kube._cond.notify_all()
                        return self.reply(200, current)
                    body = self.body()
                    if self.command == "PUT":
                        sent = str(body.get("metadata", {}).get("resourceVersion") or "")
                        if sent and sent != current["metadata"]["resourceVersion"]:
                            return self.status(409, "Conflict", f'Operation cannot be fulfilled on {m["plural"]} '
                                                                f'"{name}": the object has been modified')
                        return self.reply(200, kube._store(kind, key, body, "MODIFIED"))
                    if self.command == "PATCH":
                        ctype = self.headers.get("Content-Type", "")
                        if "json-patch" in ctype:
                            return self.status(415, "UnsupportedMediaType", "use a merge patch")
                        return self.reply(200, kube._store(kind, key, merge_patch(current, body), "MODIFIED"))
                return self.status(405, "MethodNotAllowed", self.command)

            def list(self, kind: str, ns: str) -> None:
                with kube._cond:
                    items = [copy.deepcopy(o) for (k, n, _), o in sorted(kube.objects.items()) if k == kind and n == ns]
                    self.reply(200, {"kind": "List", "apiVersion": "v1", "items": items,
                                     "metadata": {"resourceVersion": str(kube.rv)}})

            def watch(self, kind: str, ns: str, query: dict[str, list[str]]) -> None:
                since = int((query.get("resourceVersion") or ["0"])[0] or 0)
                timeout = float((query.get("timeoutSeconds") or ["30"])[0])
                selector = (query.get("fieldSelector") or [""])[0]
                wanted = selector.removeprefix("metadata.name=") if selector.startswith("metadata.name=") else None
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                if kube.fail_watches > 0:
                    kube.fail_watches -= 1
                    self.wfile.write(b"0\r\n\r\n")
                    return
                if since and kube.events and since < kube.events[0][0] - 1:
                    self.chunk({"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired"}})
                    self.wfile.write(b"0\r\n\r\n")
                    return
                deadline = time.monotonic() + timeout
                sent = since if since else kube.rv
                try:
                    while time.monotonic() < deadline:
                        with kube._cond:
                            pending = [e for e in kube.events if e[0] > sent and e[2] == kind
                                       and e[3]["metadata"].get("namespace") == ns
                                       and (wanted is None or e[3]["metadata"]["name"] == wanted)]
                            if not pending:
                                kube._cond.wait(timeout=min(0.5, max(0.0, deadline - time.monotonic())))
                                continue
                        for rv, event, _, obj in pending:
                            self.chunk({"type": event, "object": obj})
                            sent = rv
                    self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def chunk(self, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode() + b"\n"
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

        return Handler
