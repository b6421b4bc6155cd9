"""Command line: `gitops-promoter run [--once] | status | promote | rollback | check-config | tags | edit`."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from gitops_promoter.errors import ConfigError, EditError, PolicyError

log = logging.getLogger("gitops_promoter")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    from gitops_promoter.runtime.telemetry import setup_logging

    level = args.log_level or ("info" if getattr(args, "command", "") == "run" and not args.once else "warning")
    setup_logging(level=level, fmt=args.log_format)
    try:
        return int(args.func(args))
    except BrokenPipeError:
        return 1


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gitops-promoter", description="Promote container images by writing to git.")
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"],
                   help="default: info for the service, warning for other commands")
    p.add_argument("--log-format", default=os.environ.get("GITOPS_PROMOTER_LOG_FORMAT", "console"),
                   choices=["console", "json"],
                   help="json: one object a line, with app, env, tag and action when a line concerns one "
                        "(default: $GITOPS_PROMOTER_LOG_FORMAT, else console)")
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("check-config", help="validate a config file, and the canaries' AnalysisTemplates and "
                                            "Rollout steps where the repository is readable here; exit 0 when "
                                            "valid, 1 otherwise")
    c.add_argument("file")
    c.add_argument("--workdir", help="where working clones live, read (never fetched) for the repositories' files "
                                     "(default: state.workdir)")
    c.set_defaults(func=cmd_check_config)

    tags = sub.add_parser("tags", help="tag policy tools").add_subparsers(dest="tags_command", required=True)
    pick = tags.add_parser("pick", help='read {"policy": {...}, "tags": [...]} on stdin, print {"selected": ...}')
    pick.set_defaults(func=cmd_tags_pick)

    edit = sub.add_parser("edit", help="format-preserving edits").add_subparsers(dest="edit_command", required=True)
    si = edit.add_parser("set-image", help="set a container's image, like `kustomize edit set image`")
    si.add_argument("file")
    si.add_argument("--container", required=True, help="container (or initContainer) name")
    si.add_argument("--image", required=True, help="full reference: name[:tag][@digest]")
    si.add_argument("--in-place", action="store_true", help="rewrite the file instead of printing it")
    si.set_defaults(func=cmd_set_image)
    sp = edit.add_parser("set-pause", help="make a canary pause step timed or indefinite (byte-preserving)")
    sp.add_argument("file")
    sp.add_argument("--step", type=int, required=True, help="index in spec.strategy.canary.steps")
    how = sp.add_mutually_exclusive_group(required=True)
    how.add_argument("--duration", help="e.g. 10s: the step becomes pause: {duration: 10s}")
    how.add_argument("--indefinite", action="store_true", help="the step becomes pause: {} (a gate)")
    sp.add_argument("--in-place", action="store_true", help="rewrite the file instead of printing it")
    sp.set_defaults(func=cmd_set_pause)

    analysis = sub.add_parser("analysis", help="analysis tools").add_subparsers(dest="analysis_command",
                                                                              required=True)
    ev = analysis.add_parser("evaluate", help='read {"metric": {...}, "measurements": [...]} on stdin, print '
                                              '{"phase": ..., "measurements": [...]}')
    ev.set_defaults(func=cmd_analysis_evaluate)

    run = sub.add_parser("run", help="the service (until SIGTERM/SIGINT), or --once: reconcile every app and exit")
    run.add_argument("--config", required=True)
    run.add_argument("--once", action="store_true",
                     help="reconcile every app (driving gate analyses to their end), then exit")
    run.add_argument("--dry-run", action="store_true", help="print the diffs it would commit; write nothing")
    run.add_argument("--app", action="append", help="only this app (repeatable)")
    run.add_argument("--workdir", help="where working clones live (default: state.workdir)")
    run.set_defaults(func=cmd_run)

    for verb, text in (("promote", "advance the gate the canary waits at, without analysis (a person decides)"),
                       ("rollback", "revert the release in git now (a person decides)")):
        decide = sub.add_parser(verb, help=text)
        decide.add_argument("app")
        decide.add_argument("env")
        decide.add_argument("--config", required=True)
        decide.add_argument("--workdir", help="where working clones live (default: state.workdir)")
        decide.set_defaults(func=cmd_decide, force=verb)

    st = sub.add_parser("status", help="per app × environment: what runs, open PRs and approvals, why nothing moved")
    st.add_argument("--config", required=True)
    st.add_argument("--app", action="append", help="only this app (repeatable)")
    st.add_argument("--workdir", help="where working clones live (default: state.workdir)")
    st.set_defaults(func=cmd_status)
    return p


def cmd_check_config(args: argparse.Namespace) -> int:
    from gitops_promoter.config import load_config
    from gitops_promoter.runtime.checks import check_repositories

    try:
        config = load_config(args.file)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"{args.file}: {len(exc.problems)} problem(s)", file=sys.stderr)
        return 1
    found = check_repositories(config, workdir=args.workdir)
    for warning in found.warnings:
        print(f"warning: {warning}")
    for note in found.notes:
        print(f"note: {note}")
    if found.problems:
        for problem in found.problems:
            print(problem, file=sys.stderr)
        print(f"{args.file}: {len(found.problems)} problem(s)", file=sys.stderr)
        return 1
    warned = f"; {len(found.warnings)} warning(s)" if found.warnings else ""
    print(f"{args.file}: OK ({len(config.apps)} apps, {len(config.environments)} environments, "
          f"{len(config.repositories)} repositories){warned}")
    return 0


def cmd_tags_pick(args: argparse.Namespace) -> int:
    from gitops_promoter.domain.policy import Policy

    try:
        data = json.load(sys.stdin)
        policy_args = dict(data.get("policy") or {})
        if "strategy" not in policy_args:
            raise PolicyError("policy.strategy is required")
        unknown = set(policy_args) - {"strategy", "constraint", "semver_mode", "allow_tags", "ignore_tags",
                                      "extract", "order", "ignore_signature_tags"}
        if unknown:
            raise PolicyError(f"unknown policy keys: {', '.join(sorted(unknown))}")
        policy = Policy.build(**{k: v for k, v in policy_args.items() if v is not None})
        tags = [_tag(t) for t in data.get("tags") or []]
        selected = policy.select(tags)
    except (PolicyError, ValueError, TypeError, AttributeError) as exc:
        print(json.dumps({"selected": None, "error": str(exc)}))
        return 2
    print(json.dumps({"selected": None if selected is None else selected.name}))
    return 0


def _tag(raw: Any) -> Any:
    from gitops_promoter.domain.tags import TagInfo

    if isinstance(raw, str):
        return TagInfo(raw)
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise ValueError(f"each tag needs a name: {raw!r}")
    created = raw.get("created")
    when = None
    if created:
        when = datetime.fromisoformat(str(created).replace("Z", "+00:00"))
    return TagInfo(raw["name"], created=when, digest=raw.get("digest"))


def cmd_analysis_evaluate(args: argparse.Namespace) -> int:
    from gitops_promoter.domain.analysis import Measurement, assess_metric, metric_from, parse_value
    from gitops_promoter.domain.expr import ExprError

    try:
        data = json.load(sys.stdin)
        if not isinstance(data, dict):
            raise ValueError("input must be a JSON object with metric and measurements")
        metric = metric_from(dict(data.get("metric") or {}))
        measurements = []
        for raw in data.get("measurements") or []:
            if not isinstance(raw, dict) or not ({"value", "error"} & set(raw)):
                raise ValueError(f'each measurement is {{"value": ...}} or {{"error": "..."}}, not {raw!r}')
            if "error" in raw and raw["error"] is not None:
                measurements.append(Measurement(error=str(raw["error"])))
            else:
                measurements.append(Measurement(value=parse_value(raw.get("value"))))
        verdict = assess_metric(metric, measurements)
    except (ValueError, ExprError) as exc:
        print(json.dumps({"phase": None, "error": str(exc)}))
        return 2
    print(json.dumps({"phase": verdict.phase, "measurements": [a.phase for a in verdict.measurements]}))
    return 0


def _edit_file(path: Path, edit: Callable[[str], str], *, in_place: bool) -> int:
    """Read, edit and print (or rewrite) a file; errors name the file and exit 1, no traceback."""
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            text = fh.read()
        out = edit(text)
    except OSError as exc:
        print(f"{path}: {exc.strerror}", file=sys.stderr)
        return 1
    except (EditError, ValueError) as exc:
        print(str(exc) if str(exc).startswith(str(path)) else f"{path}: {exc}", file=sys.stderr)
        return 1
    if in_place:
        if out != text:
            with open(path, "w", encoding="utf-8", newline="") as fh:
                fh.write(out)
    else:
        sys.stdout.write(out)
    return 0


def cmd_set_image(args: argparse.Namespace) -> int:
    from gitops_promoter.domain.edits import set_container_image

    path = Path(args.file)
    return _edit_file(path, lambda text: set_container_image(text, container=args.container, image=args.image,
                                                             source=str(path)), in_place=args.in_place)


def cmd_set_pause(args: argparse.Namespace) -> int:
    from gitops_promoter.domain.rollout import set_pause

    path = Path(args.file)
    duration = None if args.indefinite else args.duration
    return _edit_file(path, lambda text: set_pause(text, step=args.step, duration=duration, source=str(path)),
                      in_place=args.in_place)


def cmd_run(args: argparse.Namespace) -> int:
    if not args.once:
        if args.dry_run or args.app:
            print("--dry-run and --app need --once", file=sys.stderr)
            return 2
        from gitops_promoter.runtime.serve import serve

        return serve(config_path=args.config, workdir=args.workdir)
    from gitops_promoter.runtime.commands import run_once

    return run_once(config_path=args.config, dry_run=args.dry_run,
                    apps=frozenset(args.app) if args.app else None, workdir=args.workdir)


def cmd_decide(args: argparse.Namespace) -> int:
    from gitops_promoter.runtime.commands import decide_canary

    return decide_canary(config_path=args.config, app=args.app, env=args.env, force=args.force,
                         workdir=args.workdir)


def cmd_status(args: argparse.Namespace) -> int:
    from gitops_promoter.runtime.commands import status

    return status(config_path=args.config, apps=frozenset(args.app) if args.app else None, workdir=args.workdir)


if __name__ == "__main__":
    sys.exit(main())
