"""Commit and pull-request titles from O&M's templates: `{app} {env} {from} {to}`.

The peers let O&M word their commits (Flux's ImageUpdateAutomation `commit.messageTemplate`, Argo CD
Image Updater's `git.commit-message-template`); here only the title is a template — the body and the
`Promoter-*` trailers, from which the promoter rebuilds its state, are always written as they are.
A template is checked when the config loads (`template_problem`); a title never holds a control
character or a line break, whatever a tag read from a file holds (`render_title`).
"""

from __future__ import annotations

from string import Formatter

PLACEHOLDERS = ("app", "env", "from", "to")
MAX_TEMPLATE = 200  # characters of a template
MAX_TITLE = 256  # GitHub refuses a longer pull-request title (422); a commit subject is kept as short


def template_problem(template: str) -> str | None:
    """Why `template` is not a title template, or None. Placeholders are `{app}`, `{env}`, `{from}` and
    `{to}`; `{{` and `}}` are literal braces; no format specs, conversions, indexes or attributes."""
    if not template.strip():
        return "must not be empty"
    if len(template) > MAX_TEMPLATE:
        return f"is {len(template)} characters long; the limit is {MAX_TEMPLATE}"
    if not all(ch.isprintable() for ch in template):
        return "must not contain control characters, line breaks or invisible characters (a title is one line)"
    try:
        parts = list(Formatter().parse(template))
    except ValueError as exc:  # "Single '}' encountered in format string", "expected '}' before end of string"
        return f"{exc} (write {{{{ and }}}} for literal braces)"
    known = ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
    for _, field, spec, conversion in parts:
        if field is None:
            continue
        if field not in PLACEHOLDERS:
            return f"unknown placeholder {{{field}}}; the placeholders are {known}"
        if spec or conversion:
            shown = "{" + field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            return f"{shown}: placeholders take no conversion or format spec; write {{{field}}}"
    return None


def render_title(template: str, *, app: str, env: str, from_tag: str | None, to_tag: str) -> str:
    """The title for a promotion of `app` in `env` from `from_tag` ("(none)" when the file had no tag)
    to `to_tag`, at most MAX_TITLE characters. `template` must have passed `template_problem`. The
    callers escape what a value brings (plan.render_message, proposal.title: `plan.escape_text`), so a
    tag a person wrote into a file can neither start a line nor forge a trailer."""
    values = {"app": app, "env": env, "from": from_tag or "(none)", "to": to_tag}
    text = "".join(literal + (values[field] if field is not None else "")
                   for literal, field, _, _ in Formatter().parse(template)).strip()
    return text if len(text) <= MAX_TITLE else text[:MAX_TITLE - 1] + "…"
