"""A Kubernetes API server for tests (no kube-apiserver can run here), which the real
`kubernetes` client talks to over HTTP.

A generic object store for namespaced resources under `/api/v1` and `/apis/GROUP/VERSION`:
create, get, list, replace (409 on a stale resourceVersion), merge-patch, delete, and watch
streams (`?watch=true&resourceVersion=N`, chunked JSON lines, `timeoutSeconds`). Every write
bumps a global resourceVersion, as etcd does.

`coordination.k8s.io/v1` Leases are held to the real apiserver's rules (see `_lease_*` below):
decoding (MicroTime, field types), validation, optimistic concurrency, create-on-update and
the Status objects it answers with. `intercept` lets a test make the server unreachable for
some or all clients, or act between two requests.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.net import LocalServer

_PATH = re.compile(r"^/(?:api/(?P<core>v1)|apis/(?P<group>[^/]+)/(?P<version>[^/]+))/namespaces/(?P<ns>[^/]+)/"
                   r"(?P<plural>[^/]+)(?:/(?P<name>[^/]+))?(?:/(?P<sub>status))?$")


LEASES = "coordination.k8s.io/v1/leases"


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


# --- Leases: the apiserver's rules ---------------------------------------------------------------
# Sources (kubernetes/kubernetes):
# * pkg/apis/coordination/validation/validation.go (ValidateLease / ValidateLeaseSpec):
#   metadata.name is a DNS-1123 subdomain; spec.leaseDurationSeconds > 0 when set;
#   spec.leaseTransitions >= 0 when set; preferredHolder only with a strategy; a strategy without
#   "/" must be a Kubernetes-defined one ("OldestEmulationVersion"). Failures: 422 Invalid.
# * pkg/registry/coordination/lease/strategy.go: AllowCreateOnUpdate() is true (a PUT of a
#   missing Lease creates it), AllowUnconditionalUpdate() is false.
# * staging/src/k8s.io/apiserver/pkg/registry/generic/registry/store.go (Store.Update): without
#   unconditional updates a PUT without metadata.resourceVersion is 422 Invalid ("must be
#   specified for an update"); a different resourceVersion is 409 Conflict. The PUT's only
#   precondition is metadata.uid (rest.defaultUpdatedObjectInfo.Preconditions), checked against
#   the stored object: a uid on a PUT of a deleted Lease is 409 Conflict, not a re-create.
#   Store.create: a name that exists is 409 AlreadyExists; a resourceVersion on a create is
#   rejected by storage ("resourceVersion should not be set on objects to be created", 500).
# * staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/micro_time.go: acquireTime/renewTime are
#   MicroTime, parsed with RFC3339Micro "2006-01-02T15:04:05.000000Z07:00" (exactly six fraction
#   digits; "...:05Z" or "...:05+00:00" do not parse: 400 BadRequest at decoding) and written
#   back as UTC with six digits. The lease strategy sets no metadata.generation.
RFC3339_MICRO = "2006-01-02T15:04:05.000000Z07:00"
_LEASE_RESOURCE = "leases.coordination.k8s.io"
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LEASE_SPEC_FIELDS = {"holderIdentity": str, "leaseDurationSeconds": int, "acquireTime": "MicroTime",
                      "renewTime": "MicroTime", "leaseTransitions": int, "strategy": str, "preferredHolder": str}


class ApiError(Exception):
    """An apiserver failure, answered as a `Status` object."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def status(self) -> dict[str, Any]:
        body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": self.message,
                "reason": self.reason, "code": self.code}
        if self.details is not None:
            body["details"] = self.details
        return body


def _json_kind(value: Any) -> str:
    """How Go's encoding/json names a JSON value in an UnmarshalTypeError."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", dict: "object", list: "array"}.get(type(value), "value")


def _lease_details(name: str, **more: Any) -> dict[str, Any]:
    return {"name": name, "group": "coordination.k8s.io", "kind": "leases", **more}


def parse_micro_time(text: str) -> datetime:
    """Go's time.Parse(RFC3339Micro, text), with Go's wording in the ValueError."""
    where = f"parsing time {json.dumps(text)} as {json.dumps(RFC3339_MICRO)}"
    head = re.fullmatch(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(.*)", text, re.S)
    if head is None:
        raise ValueError(f'{where}: cannot parse {json.dumps(text)} as "2006"')
    tail = re.fullmatch(r"\.(\d{6})(Z|([+-])(\d{2}):(\d{2}))", head[2])
    if tail is None:
        raise ValueError(f'{where}: cannot parse {json.dumps(head[2])} as ".000000"')
    try:
        base = datetime.strptime(head[1], "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        raise ValueError(f"{where}: field out of range") from None
    zone = UTC
    if tail[2] != "Z":
        offset = timedelta(hours=int(tail[4]), minutes=int(tail[5]))
        zone = timezone(-offset if tail[3] == "-" else offset)
    return base.replace(microsecond=int(tail[1]), tzinfo=zone)


def format_micro_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _lease_decode(obj: Any, namespace: str, url_name: str | None) -> dict[str, Any]:
    """What the apiserver's decoder accepts (400 BadRequest otherwise), with times normalized."""
    def bad(message: str) -> ApiError:
        return ApiError(400, "BadRequest", f'Lease in version "v1" cannot be handled as a Lease: {message}')

    if not isinstance(obj, dict):
        raise bad("json: cannot unmarshal into Go value of type coordination.Lease")
    if obj.get("apiVersion") not in (None, "coordination.k8s.io/v1") or obj.get("kind") not in (None, "Lease"):
        raise ApiError(400, "BadRequest", f"the API version in the data ({obj.get('apiVersion')}) does not match "
                                          "the expected API version (coordination.k8s.io/v1)")
    meta = obj.get("metadata") or {}
    spec = obj.get("spec") or {}
    if not isinstance(meta, dict) or not isinstance(spec, dict):
        raise bad("json: cannot unmarshal into Go struct field Lease.metadata/spec")
    clean: dict[str, Any] = {}
    for key, value in spec.items():
        kind = _LEASE_SPEC_FIELDS.get(key)
        if kind is None or value is None:
            continue  # unknown fields are dropped (fieldValidation=Warn, the default)
        if kind == "MicroTime":
            if not isinstance(value, str):
                raise bad(f"json: cannot unmarshal {_json_kind(value)} into Go struct field "
                          f"LeaseSpec.spec.{key} of type string")
            try:
                clean[key] = format_micro_time(parse_micro_time(value))
            except ValueError as exc:
                raise bad(str(exc)) from None
        elif kind is int:
            if isinstance(value, bool) or not isinstance(value, int) or not -2**31 <= value < 2**31:
                raise bad(f"json: cannot unmarshal {_json_kind(value)} into Go struct field "
                          f"LeaseSpec.spec.{key} of type int32")
            clean[key] = value
        else:
            if not isinstance(value, str):
                raise bad(f"json: cannot unmarshal {_json_kind(value)} into Go struct field "
                          f"LeaseSpec.spec.{key} of type string")
            clean[key] = value
    meta = copy.deepcopy(meta)
    if meta.get("namespace", namespace) != namespace:
        raise ApiError(400, "BadRequest", "the namespace of the provided object does not match the namespace "
                                          "sent on the request")
    meta["namespace"] = namespace
    if url_name is not None and meta.get("name", url_name) != url_name:
        raise ApiError(400, "BadRequest", f"the name of the object ({meta.get('name')}) does not match the name on "
                                          f"the URL ({url_name})")
    if url_name is not None:
        meta.setdefault("name", url_name)
    meta.pop("generation", None)
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta, "spec": clean}


def _lease_validate(lease: dict[str, Any]) -> None:
    """pkg/apis/coordination/validation: ValidateLease (422 Invalid)."""
    name = str(lease["metadata"].get("name") or "")
    spec = lease["spec"]
    causes: list[tuple[str, str, str]] = []  # (reason, field, message)
    if not name:
        causes.append(("FieldValueRequired", "metadata.name", "Required value: name or generateName is required"))
    elif len(name) > 253 or not _DNS1123_SUBDOMAIN.fullmatch(name):
        causes.append(("FieldValueInvalid", "metadata.name",
                       f"Invalid value: {json.dumps(name)}: a lowercase RFC 1123 subdomain must consist of lower "
                       "case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric "
                       "character"))
    duration = spec.get("leaseDurationSeconds")
    if duration is not None and duration <= 0:
        causes.append(("FieldValueInvalid", "spec.leaseDurationSeconds",
                       f"Invalid value: {duration}: must be greater than 0"))
    transitions = spec.get("leaseTransitions")
    if transitions is not None and transitions < 0:
        causes.append(("FieldValueInvalid", "spec.leaseTransitions",
                       f"Invalid value: {transitions}: must be greater than or equal to 0"))
    strategy = spec.get("strategy")
    if strategy is not None:
        if "/" not in strategy and strategy != "OldestEmulationVersion":
            causes.append(("FieldValueNotSupported", "spec.strategy.strategy",
                           f'Unsupported value: {json.dumps(strategy)}: supported values: "OldestEmulationVersion"'))
        elif "/" in strategy and not re.fullmatch(r"[a-z0-9.-]+/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?", strategy):
            causes.append(("FieldValueInvalid", "spec.strategy.strategy",
                           f"Invalid value: {json.dumps(strategy)}: must be a qualified name"))
    if spec.get("preferredHolder") and not strategy:
        causes.append(("FieldValueForbidden", "spec.preferredHolder",
                       "Forbidden: may only be specified if `strategy` is defined"))
    if causes:
        texts = [f"{field}: {message}" for _, field, message in causes]
        joined = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
        raise ApiError(422, "Invalid", f'Lease.coordination.k8s.io "{name}" is invalid: {joined}',
                       {"name": name, "group": "coordination.k8s.io", "kind": "Lease",
                        "causes": [{"reason": r, "message": m, "field": f} for r, f, m in causes]})


class FakeKube(LocalServer):
    def __init__(self, *, token: str | None = "t", keep_events: int = 500) -> None:
        """`token`: the bearer token every request must carry (kubeconfig_for writes "t"); None lets
        anyone in. `keep_events`: how many watch events are kept, as etcd compacts old revisions, so
        a watch from an older resourceVersion gets 410 Expired for real."""
        self.token = token
        self.keep_events = keep_events
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}  # (api/plural, ns, name) -> object
        self.events: list[tuple[int, str, str, dict[str, Any]]] = []  # (rv, type, kind key, object)
        self.rv = 100
        self.log: list[str] = []
        self.fail_watches = 0  # close the next N watch streams at once (a flaky apiserver)
        # Called with (method, path, headers) before a request is served; may act on the store (another
        # writer between two requests) and answer "drop" (close the connection without a reply) or
        # "unavailable" (503) to make the server unreachable for that request; None serves it.
        self.intercept: Callable[[str, str, Mapping[str, str]], str | None] | None = None
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
            if kind == LEASES:  # held to the same decoding and validation as over HTTP
                lease = _lease_decode(obj, key[1], key[2])
                _lease_validate(lease)
                previous = self.objects.get(key)
                for field in ("uid", "creationTimestamp"):  # another writer's update, not a re-create
                    if previous is not None and field in previous["metadata"]:
                        lease["metadata"][field] = previous["metadata"][field]
                return self._store(kind, key, lease, event, generation=False)
            return self._store(kind, key, obj, event)

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        with self._cond:
            obj = self.objects.get((kind, namespace, name))
            return copy.deepcopy(obj) if obj else None

    def patch(self, kind: str, namespace: str, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        with self._cond:
            key = (kind, namespace, name)
            return self._store(kind, key, merge_patch(self.objects[key], patch), "MODIFIED")

    def _store(self, kind: str, key: tuple[str, str, str], obj: dict[str, Any], event: str, *,
               generation: bool = True) -> dict[str, Any]:
        self.rv += 1
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = str(self.rv)
        obj["metadata"].setdefault("namespace", key[1])
        obj["metadata"].setdefault("uid", f"uid-{key[2]}-{self.rv}")
        previous = self.objects.get(key)
        if generation:
            number = int((previous or obj)["metadata"].get("generation", 0) or 0)
            if previous is None:
                number = max(number, 1)
            elif previous.get("spec") != obj.get("spec"):
                number += 1  # as the apiserver does: only spec changes move the generation
            obj["metadata"]["generation"] = number
        self.objects[key] = obj
        self.events.append((self.rv, event, kind, copy.deepcopy(obj)))
        del self.events[:-self.keep_events]
        self._cond.notify_all()
        return copy.deepcopy(obj)

    # --- Leases over HTTP (see the sources above) ---------------------------------------------------
    def _lease_create(self, namespace: str, body: Any) -> dict[str, Any]:
        lease = _lease_decode(body, namespace, None)
        meta = lease["metadata"]
        if meta.get("resourceVersion"):
            raise ApiError(500, "InternalError", "Internal error occurred: resourceVersion should not be set on "
                                                 "objects to be created")
        _lease_validate(lease)
        name = meta["name"]
        with self._cond:
            key = (LEASES, namespace, name)
            if key in self.objects:
                raise ApiError(409, "AlreadyExists", f'{_LEASE_RESOURCE} "{name}" already exists',
                               _lease_details(name))
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            return self._store(LEASES, key, lease, "ADDED", generation=False)

    def _lease_get(self, namespace: str, name: str) -> dict[str, Any]:
        with self._cond:
            current = self.objects.get((LEASES, namespace, name))
            if current is None:
                raise ApiError(404, "NotFound", f'{_LEASE_RESOURCE} "{name}" not found', _lease_details(name))
            return copy.deepcopy(current)

    def _lease_update(self, namespace: str, name: str, body: Any, *, patch: bool) -> tuple[int, dict[str, Any]]:
        with self._cond:
            key = (LEASES, namespace, name)
            current = self.objects.get(key)
            if patch:
                if current is None:
                    raise ApiError(404, "NotFound", f'{_LEASE_RESOURCE} "{name}" not found', _lease_details(name))
                body = merge_patch(current, body)
            lease = _lease_decode(body, namespace, name)
            meta = lease["metadata"]
            uid = meta.get("uid")
            if uid and uid != (current or {}).get("metadata", {}).get("uid", ""):
                stored = (current or {}).get("metadata", {}).get("uid", "")
                raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {_LEASE_RESOURCE} "{name}": '
                                                f"Precondition failed: UID in precondition: {uid}, UID in object meta: "
                                                f"{stored}", _lease_details(name))
            if current is None:  # AllowCreateOnUpdate
                _lease_validate(lease)
                meta.pop("resourceVersion", None)
                meta["uid"] = str(uuid.uuid4())
                meta["creationTimestamp"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                return 201, self._store(LEASES, key, lease, "ADDED", generation=False)
            sent = str(meta.get("resourceVersion") or "")
            if not sent:
                raise ApiError(422, "Invalid", f'leases.coordination.k8s.io "{name}" is invalid: '
                                               "metadata.resourceVersion: Invalid value: 0x0: must be specified for "
                                               "an update",
                               {"name": name, "group": "coordination.k8s.io", "kind": "leases", "causes": [
                                   {"reason": "FieldValueInvalid", "field": "metadata.resourceVersion",
                                    "message": "Invalid value: 0x0: must be specified for an update"}]})
            if sent != current["metadata"]["resourceVersion"]:
                raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {_LEASE_RESOURCE} "{name}": the '
                                                "object has been modified; please apply your changes to the latest "
                                                "version and try again", _lease_details(name))
            _lease_validate(lease)
            meta["uid"] = current["metadata"]["uid"]
            if "creationTimestamp" in current["metadata"]:
                meta["creationTimestamp"] = current["metadata"]["creationTimestamp"]
            return 200, self._store(LEASES, key, lease, "MODIFIED", generation=False)

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
                intercept = kube.intercept
                action = intercept(self.command, url.path, self.headers) if intercept is not None else None
                if action == "drop":
                    self.close_connection = True
                    return None
                if action == "unavailable":
                    self.close_connection = True
                    return self.status(503, "ServiceUnavailable", "the server is currently unable to handle the "
                                                                  "request")
                # The apiserver's authentication filter answers 401 before anything else
                # (k8s.io/apiserver/pkg/endpoints/filters/authentication.go: "Unauthorized").
                if kube.token is not None and self.headers.get("Authorization") != f"Bearer {kube.token}":
                    self.close_connection = True
                    return self.status(401, "Unauthorized", "Unauthorized")
                m = _PATH.match(url.path)
                if not m:
                    return self.status(404, "NotFound", f"the server could not find {url.path}")
                api = m["core"] or f"{m['group']}/{m['version']}"
                kind, ns, name = f"{api}/{m['plural']}", m["ns"], m["name"]
                if kind == LEASES and m["sub"] is None and (name is not None or self.command == "POST"):
                    return self.lease(ns, name)
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

            def lease(self, ns: str, name: str | None) -> None:
                try:
                    if self.command in ("POST", "PUT", "PATCH"):
                        try:
                            body = self.body()
                        except ValueError as exc:
                            raise ApiError(400, "BadRequest", f"the body of the request was in an unknown format: "
                                                              f"{exc}") from None
                    if name is None:
                        return self.reply(201, kube._lease_create(ns, body))
                    if self.command == "GET":
                        return self.reply(200, kube._lease_get(ns, name))
                    if self.command in ("PUT", "PATCH"):
                        # a Lease has no merge-keyed lists: a strategic merge patch is a merge patch
                        if self.command == "PATCH" and "merge-patch" not in self.headers.get("Content-Type", ""):
                            raise ApiError(415, "UnsupportedMediaType", "use a merge patch")
                        return self.reply(*kube._lease_update(ns, name, body, patch=self.command == "PATCH"))
                    if self.command == "DELETE":
                        with kube._cond:
                            current = kube._lease_get(ns, name)
                            del kube.objects[(LEASES, ns, name)]
                            kube.rv += 1
                            kube.events.append((kube.rv, "DELETED", LEASES, copy.deepcopy(current)))
                            kube._cond.notify_all()
                        return self.reply(200, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                                "status": "Success", "details": _lease_details(name, uid=current[
                                                    "metadata"]["uid"])})
                    raise ApiError(405, "MethodNotAllowed", self.command)
                except ApiError as exc:
                    return self.reply(exc.code, exc.status())

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
                    # As the watch cache says it (k8s.io/apiserver/pkg/storage/cacher/watch_cache.go:
                    # errors.NewResourceExpired "too old resource version: %d (%d)").
                    self.chunk({"type": "ERROR", "object": {
                        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                        "message": f"too old resource version: {since} ({kube.events[0][0] - 1})",
                        "reason": "Expired", "code": 410}})
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
