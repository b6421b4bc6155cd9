"""Argo Rollouts canary steps in git: find the gates, and turn a pause into a timed or an
indefinite one with a byte-preserving edit.

A *gate* is an indefinite pause step (`pause: {}`, or `pause:` with no duration). A passed gate
becomes `pause: {duration: 10s}`; the bump commit of the next release arms it again (`pause: {}`).
Flow (`pause: {}`, `pause: { duration: 60 }`) and block styles are both edited in
place; comments on the line stay.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gitops_promoter.domain.yamltext import (
    MappingNode,
    Node,
    ScalarNode,
    Spot,
    compose_documents,
    get,
    get_path,
    items,
    splice,
)
from gitops_promoter.errors import EditError

_DURATION = re.compile(r"[0-9]+(?:ms|s|m|h)?")


@dataclass(frozen=True)
class Step:
    index: int
    kind: str  # setWeight | pause | analysis | experiment | ...
    duration: str | None = None  # pauses only; None means indefinite

    @property
    def is_gate(self) -> bool:
        return self.kind == "pause" and self.duration is None


def _rollout_steps(text: str, source: str) -> list[Node]:
    for doc in compose_documents(text, source=source):
        if isinstance(doc, MappingNode) and getattr(get(doc, "kind"), "value", None) == "Rollout":
            steps = get_path(doc, ("spec", "strategy", "canary", "steps"))
            if steps is None:
                raise EditError(f"{source}: the Rollout has no spec.strategy.canary.steps")
            return list(items(steps))
    raise EditError(f"{source}: no Argo Rollout (kind: Rollout) in the file")


def _pause_duration(value: Node | None) -> str | None:
    if isinstance(value, MappingNode):
        d = get(value, "duration")
        return str(d.value) if isinstance(d, ScalarNode) and d.value not in ("", None) else None
    return None


def canary_steps(text: str, *, source: str = "<input>") -> list[Step]:
    out = []
    for i, step in enumerate(_rollout_steps(text, source)):
        if not isinstance(step, MappingNode) or not step.value:
            out.append(Step(i, "unknown"))
            continue
        key = step.value[0][0]
        kind = key.value if isinstance(key, ScalarNode) else "unknown"
        out.append(Step(i, kind, _pause_duration(step.value[0][1]) if kind == "pause" else None))
    return out


def with_unit(duration: str) -> str:
    """A pause duration as a person reads it: Argo Rollouts takes a bare number as seconds."""
    return f"{duration}s" if duration.isascii() and duration.isdigit() else duration


def gates(text: str, *, source: str = "<input>") -> list[int]:
    """Indices of the indefinite pause steps."""
    return [s.index for s in canary_steps(text, source=source) if s.is_gate]


def set_pause(text: str, *, step: int, duration: str | None, source: str = "<input>") -> str:
    """Make step `step` a timed pause (`duration`, e.g. "10s") or an indefinite one (None). The
    result is read back: a file that would not parse, or whose step would not say so, is an
    EditError (nothing is written)."""
    out = _set_pause(text, step=step, duration=duration, source=source)
    if out != text:
        try:
            after = canary_steps(out, source=source)
        except EditError as exc:
            raise EditError(f"{source}: the edit would break the file ({exc}); nothing is written") from None
        if step >= len(after) or after[step].kind != "pause" or after[step].duration != duration:
            raise EditError(f"{source}: after the edit step {step} would not be a pause of {duration or 'no'} "
                            "duration; nothing is written")
    return out


def _set_pause(text: str, *, step: int, duration: str | None, source: str) -> str:
    if duration is not None and not _DURATION.fullmatch(duration):
        raise EditError(f"duration must look like 10s, 5m, 1h or 60, not {duration!r}")
    steps = _rollout_steps(text, source)
    if not 0 <= step < len(steps):
        raise EditError(f"{source}: step {step} does not exist (the canary has {len(steps)} steps, 0-{len(steps) - 1})")
    node = steps[step]
    pause_key = next((k for k, _ in node.value if isinstance(k, ScalarNode) and k.value == "pause"), None) \
        if isinstance(node, MappingNode) else None
    if pause_key is None:
        first = node.value[0][0] if isinstance(node, MappingNode) and node.value else None
        kind = first.value if isinstance(first, ScalarNode) else "unknown"
        raise EditError(f"{source}:{node.start_mark.line + 1}:{node.start_mark.column + 1}: step {step} is a "
                        f"{kind} step, not a pause")
    value = get(node, "pause")
    assert value is not None
    current = _pause_duration(value)
    if current == duration:
        return text
    if isinstance(value, MappingNode):
        d = get(value, "duration")
        if duration is not None and isinstance(d, ScalarNode):
            # `{duration: 60}` or a block `duration: 60`: change the value only.
            return splice(text, [(Spot.of(d), duration)], source=source)
        if value.flow_style or not value.value:
            new = "{}" if duration is None else f"{{duration: {duration}}}"
            return text[: value.start_mark.index] + new + text[value.end_mark.index :]
    # A block mapping turned indefinite, or `pause:` with no value: rewrite from the key's colon,
    # which must come before the value (`? pause` alone has none: the next colon is another step's).
    colon = text.find(":", pause_key.end_mark.index)
    if colon < 0 or colon >= value.start_mark.index:
        raise EditError(f"{source}:{pause_key.start_mark.line + 1}:{pause_key.start_mark.column + 1}: step {step}'s "
                        "pause has no `pause:` to rewrite; write `pause: {}`")
    if isinstance(value, MappingNode):
        end = _end_of_value(text, value)
    elif isinstance(value, ScalarNode) and value.value in ("", None) and value.start_mark.index >= \
            value.end_mark.index:
        end = colon + 1  # `pause:` with nothing after it
    else:
        end = value.end_mark.index  # `pause: null` or `pause: ~`
    new = ": {}" if duration is None else f": {{duration: {duration}}}"
    return text[:colon] + new + text[end:]


def arm(text: str, *, steps: tuple[int, ...], duration: str, source: str = "<input>") -> str:
    """Turn each of `steps` that is a pause of exactly `duration` (a gate the promoter passed)
    back into `pause: {}`. Steps that are anything else now — a person's timed pause of another
    length, a weight, a step that no longer exists — are left as they are."""
    current = canary_steps(text, source=source)
    for step in steps:
        if step < len(current) and current[step].kind == "pause" and current[step].duration == duration:
            text = set_pause(text, step=step, duration=None, source=source)
    return text


def _end_of_value(text: str, node: MappingNode) -> int:
    """Where a block mapping's last value ends (before its line's comment and newline)."""
    last = node.value[-1][1]
    return int(last.end_mark.index)
