"""Logs: text or JSON lines on stderr, each with app, env, tag and action when it concerns one,
secrets masked."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

FIELDS = ("app", "env", "tag", "action")


class Redact(logging.Filter):
    """Masks every secret value the config resolves to, wherever it would appear in a record."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def mask(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            record.msg = self.mask(record.getMessage())
            record.args = None
            if record.exc_info:
                record.exc_text = self.mask(logging.Formatter().formatException(record.exc_info))
                record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        for key in FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False)


class ConsoleFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extra = " ".join(f"{k}={getattr(record, k)}" for k in FIELDS if getattr(record, k, None) is not None)
        return f"{text} [{extra}]" if extra else text


def setup_logging(*, level: str, fmt: str, secrets: Iterable[str] = ()) -> Redact:
    """Configure the root logger once: stderr, the chosen format, secrets masked."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else ConsoleFormatter())
    redact = Redact(secrets)
    handler.addFilter(redact)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper()))
    for noisy in ("apscheduler", "urllib3", "httpx", "git", "kubernetes"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # A run skipped because one is still running is handled by the service (it runs once more).
    logging.getLogger("apscheduler.scheduler").setLevel(max(logging.ERROR, root.level))
    return redact
