"""Argo Rollouts argument templating in queries: `{{args.name}}`."""

from __future__ import annotations

import re
from collections.abc import Mapping

from gitops_promoter.errors import PromoterError

_ARG = re.compile(r"\{\{\s*args\.([A-Za-z0-9_.-]+)\s*\}\}")


class TemplateError(PromoterError):
    """A query names an argument that has no value."""


def render_args(text: str, args: Mapping[str, str]) -> str:
    def one(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in args:
            known = ", ".join(sorted(args)) or "none"
            raise TemplateError(f"query uses {{{{args.{name}}}}} but no such argument is given (args: {known})")
        return str(args[name])

    return _ARG.sub(one, text)
