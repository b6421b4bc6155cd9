"""Debian's docker-registry (distribution 2.8) on 127.0.0.1 with in-memory storage, and a pusher
that uploads real blobs, manifests and indexes over the distribution API."""

from __future__ import annotations

import hashlib
import json
import shutil
import ssl
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.net import free_port, stop_process, wait_for_port

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_V2 = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"


@dataclass
class RegistryServer:
    """One docker-registry process. `htpasswd` holds {user: password} for basic auth."""

    htpasswd: dict[str, str] = field(default_factory=dict)
    notify: tuple[str, str] | None = None  # (url, bearer token): send push notifications there
    tls: bool = False  # serve https with a self-signed certificate for 127.0.0.1 (`ca_file`)
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    dir: Path | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}"

    @property
    def ca_file(self) -> Path:
        assert self.tls and self.dir is not None
        return self.dir / "cert.pem"

    def start(self) -> RegistryServer:
        binary = shutil.which("docker-registry")
        if binary is None:
            raise RuntimeError("docker-registry is not installed (make test installs it)")
        self.dir = Path(tempfile.mkdtemp(prefix="registry-"))
        self.port = free_port()
        auth = ""
        if self.htpasswd:
            import bcrypt

            lines = [f"{u}:{bcrypt.hashpw(p.encode(), bcrypt.gensalt(rounds=4)).decode()}"
                     for u, p in self.htpasswd.items()]
            (self.dir / "htpasswd").write_text("\n".join(lines) + "\n")
            auth = f"auth: {{htpasswd: {{realm: basic-realm, path: {self.dir / 'htpasswd'}}}}}\n"
        (self.dir / "config.yml").write_text(
            "version: 0.1\n"
            "log: {level: error, accesslog: {disabled: true}}\n"
            "storage: {inmemory: {}, delete: {enabled: true}}\n"
            f"http: {{addr: '127.0.0.1:{self.port}'{self._tls()}}}\n" + auth + self._notifications())
        self.proc = subprocess.Popen([binary, "serve", str(self.dir / "config.yml")],
                                     stdout=subprocess.DEVNULL, stderr=open(self.dir / "log", "wb"))
        wait_for_port(self.port)
        return self

    def _tls(self) -> str:
        """distribution's `http.tls.certificate`/`key` (docs/configuration.md, http section), with a
        self-signed certificate openssl makes for IP 127.0.0.1: the client trusts it only through
        `ca_file`."""
        if not self.tls:
            return ""
        assert self.dir is not None
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-keyout", str(self.dir / "key.pem"), "-out", str(self.ca_file), "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
        return f", tls: {{certificate: '{self.ca_file}', key: '{self.dir / 'key.pem'}'}}"

    def _notifications(self) -> str:
        """distribution's `notifications.endpoints` (docs/configuration.md, notifications section):
        the registry POSTs event envelopes there, retrying with `backoff` after a failure."""
        if self.notify is None:
            return ""
        url, token = self.notify
        return ("notifications:\n  endpoints:\n    - name: promoter\n"
                f"      url: {url}\n      headers: {{Authorization: ['Bearer {token}']}}\n"
                "      timeout: 2s\n      threshold: 3\n      backoff: 200ms\n")

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Pusher:
    """Pushes images the way a CI pipeline would, without docker."""

    def __init__(self, base_url: str, *, auth: tuple[str, str] | None = None, ca_file: Path | None = None) -> None:
        verify = ssl.create_default_context(cafile=str(ca_file)) if ca_file else True
        self.http = httpx.Client(base_url=base_url, auth=auth, timeout=10, verify=verify)

    def blob(self, repo: str, data: bytes) -> str:
        digest = _digest(data)
        r = self.http.post(f"/v2/{repo}/blobs/uploads/")
        r.raise_for_status()
        location = r.headers["Location"]
        sep = "&" if "?" in location else "?"
        r = self.http.put(f"{location}{sep}digest={digest}", content=data,
                          headers={"Content-Type": "application/octet-stream"})
        r.raise_for_status()
        return digest

    def manifest(self, repo: str, reference: str | None, body: dict, media_type: str) -> str:
        data = json.dumps(body, separators=(",", ":")).encode()
        reference = reference or _digest(data)
        r = self.http.put(f"/v2/{repo}/manifests/{reference}", content=data, headers={"Content-Type": media_type})
        r.raise_for_status()
        return r.headers.get("Docker-Content-Digest") or _digest(data)

    def image(self, repo: str, tag: str | None, *, created: str = "2024-01-01T00:00:00Z", arch: str = "amd64",
              docker: bool = False, payload: bytes | None = None) -> str:
        """Push a one-layer image under `tag` (by digest only when None); returns its manifest digest."""
        layer = payload if payload is not None else f"{repo}:{tag}:{arch}:{created}".encode()
        layer_digest = self.blob(repo, layer)
        config = json.dumps({"architecture": arch, "os": "linux", "created": created,
                             "rootfs": {"type": "layers", "diff_ids": [layer_digest]}}).encode()
        config_digest = self.blob(repo, config)
        media = DOCKER_V2 if docker else OCI_MANIFEST
        body = {
            "schemaVersion": 2, "mediaType": media,
            "config": {"mediaType": DOCKER_CONFIG if docker else "application/vnd.oci.image.config.v1+json",
                       "digest": config_digest, "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip" if not docker else
                        "application/vnd.docker.image.rootfs.diff.tar.gzip",
                        "digest": layer_digest, "size": len(layer)}],
        }
        return self.manifest(repo, tag, body, media)

    def index(self, repo: str, tag: str, *, created: dict[str, str]) -> str:
        """Push a multi-platform OCI index with one image per architecture in `created`."""
        entries = []
        for arch, when in created.items():
            digest = self.image(repo, None, created=when, arch=arch, payload=f"{repo}:{tag}:{arch}".encode())
            body = self.http.get(f"/v2/{repo}/manifests/{digest}", headers={"Accept": OCI_MANIFEST}).content
            entries.append({"mediaType": OCI_MANIFEST, "digest": digest, "size": len(body),
                            "platform": {"os": "linux", "architecture": arch}})
        return self.manifest(repo, tag, {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries},
                             OCI_INDEX)
