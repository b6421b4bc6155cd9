"""Command line: `gitops-promoter run [--once] | status | explain | promote | rollback | allow | check-config |
analysis | tags | edit`. Each command that reads a config takes `--config` (`config_path`)."""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn, cast

from gitops_promoter.errors import ConfigError, EditError, PolicyError

log = logging.getLogger("gitops_promoter")


EXIT_CODES = """\
exit codes:
  0  done: every app was handled, the config is valid, the gate's metrics all pass
  1  the command ran and something failed or was refused (an app's error, an invalid config,
     a tag the registry does not have, a metric that does not pass)
  2  the command line or its input is wrong (unknown option, missing argument, no config found,
     unreadable stdin for `tags pick` and `analysis evaluate`)"""

CONFIG_HELP = "the config file (default: $GITOPS_PROMOTER_CONFIG, then ./promoter.yaml)"


class UsageError(Exception):
    """The command line cannot be carried out as given (exit 2)."""


#: Collections of the youngest generation every this many allocations, not 700: a command's start
#: allocates ~200,000 objects while importing and makes little garbage (~10 ms of collections saved).
#: The service goes back to the interpreter's thresholds once it is imported.
GC_YOUNG = 20_000
_GC_DEFAULT = gc.get_threshold()


def entry() -> NoReturn:
    """The `gitops-promoter` command: `main`, then `_exit`."""
    gc.set_threshold(GC_YOUNG, *gc.get_threshold()[1:])
    _exit(main())


def _exit(code: int) -> NoReturn:
    """End the process without the interpreter's teardown, which frees every module and object one
    by one (~40 ms of a one-bump `run --once` of ~350 ms on 2 cores), when it has nothing left to
    do: no other thread runs and the only exit function is logging's, which runs here. Otherwise
    (the service's threads, a library's exit function) the process ends the normal way."""
    import atexit
    import threading

    count = getattr(atexit, "_ncallbacks", None)  # CPython's; elsewhere, the normal exit
    if threading.active_count() > 1 or count is None or count() > 1:
        sys.exit(code)
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`| head`): what the normal exit says, 120
            code = code or 120
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    given = list(sys.argv[1:] if argv is None else argv)
    parser = _parser(only=_named_command(given))
    args = parser.parse_args(given)
    from gitops_promoter.runtime.logs import setup_logging

    level = args.log_level or ("info" if getattr(args, "command", "") == "run" and not args.once else "warning")
    setup_logging(level=level, fmt=args.log_format)
    try:
        return int(args.func(args))
    except UsageError as exc:
        print(f"gitops-promoter: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 1


def config_path(given: str | None) -> str:
    """`--config`, else $GITOPS_PROMOTER_CONFIG, else ./promoter.yaml; UsageError naming what was tried."""
    if given:
        return given
    from_env = os.environ.get("GITOPS_PROMOTER_CONFIG")
    if from_env:
        return from_env
    if Path("promoter.yaml").is_file():
        return "promoter.yaml"
    raise UsageError(f"no config: --config not given, $GITOPS_PROMOTER_CONFIG not set, and no promoter.yaml "
                     f"in {Path.cwd()}")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gitops-promoter")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown (not installed)"


class _Version(argparse.Action):
    """`--version`, looked up only when asked (importlib.metadata costs ~40 ms at every start otherwise)."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=kwargs.get("help"))

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        print(f"gitops-promoter {_version()}")  # on stdout, as argparse's own version action
        parser.exit()


_GLOBAL_WITH_VALUE = ("--log-level", "--log-format")


def _named_command(argv: Sequence[str]) -> str | None:
    """The subcommand the command line names (its first word that is not a global option)."""
    words = iter(argv)
    for word in words:
        if word in _GLOBAL_WITH_VALUE:
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


class _Skipped:
    """A subcommand the command line does not name: its arguments are never built (argparse's
    parsers for every command cost ~8 ms of each start). Takes every call and ignores it."""

    skipped = True

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: self


def _command(sub: Any, name: str, *, help: str, example: str, config: bool = False, workdir: bool = False,
             codes: bool = True) -> argparse.ArgumentParser:
    """A subcommand whose --help ends with an example (and the exit codes)."""
    if getattr(sub, "skipped", False) or getattr(sub, "only", None) not in (None, name):
        return cast(argparse.ArgumentParser, _Skipped())
    epilog = "example:\n" + "\n".join(f"  {line}" for line in example.splitlines())
    if codes:
        epilog += "\n\n" + EXIT_CODES
    c: argparse.ArgumentParser = sub.add_parser(name, help=help, description=help, epilog=epilog,
                                                formatter_class=argparse.RawDescriptionHelpFormatter)
    if config:
        c.add_argument("--config", metavar="FILE", help=CONFIG_HELP)
    if workdir:
        c.add_argument("--workdir", help="where working clones live (default: state.workdir)")
    return c


def _parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser; with `only`, just that subcommand's arguments are built (every
    subcommand is built when `only` names none of them, so `--help` and errors list them all)."""
    p = argparse.ArgumentParser(
        prog="gitops-promoter", description="Promote container images by writing to git.",
        epilog="examples:\n  gitops-promoter run --config promoter.yaml\n  gitops-promoter status\n"
               "  gitops-promoter explain web staging\n\n"
               "Every command that reads a config takes --config FILE (default: $GITOPS_PROMOTER_CONFIG,\n"
               "then ./promoter.yaml). `gitops-promoter COMMAND --help` shows a command's options.\n\n"
               + EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action=_Version, help="show the version and exit")
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"],
                   help="default: info for the service, warning for other commands")
    p.add_argument("--log-format", default=os.environ.get("GITOPS_PROMOTER_LOG_FORMAT", "console"),
                   choices=["console", "json"],
                   help="json: one object a line, with app, env, tag and action when a line concerns one "
                        "(default: $GITOPS_PROMOTER_LOG_FORMAT, else console)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.only = only  # type: ignore[attr-defined]

    run = _command(sub, "run", help="the service (until SIGTERM/SIGINT), or --once: reconcile every app and exit",
                   example="gitops-promoter run --config promoter.yaml          # the service\n"
                           "gitops-promoter run --once --dry-run --app web       # print the diffs, write nothing",
                   config=True, workdir=True)
    run.add_argument("--once", action="store_true",
                     help="reconcile every app (driving gate analyses to their end), then exit")
    run.add_argument("--dry-run", action="store_true", help="with --once: print the diffs it would commit; "
                                                            "write nothing")
    run.add_argument("--app", action="append", help="with --once: only this app (repeatable)")
    run.set_defaults(func=cmd_run)

    st = _command(sub, "status", help="one line per app × environment: what runs, what moves, why, the canary",
                  example="gitops-promoter status\ngitops-promoter status -o json | jq '.[] | select(.status == "
                          "\"error\")'", config=True, workdir=True)
    st.add_argument("--app", action="append", help="only this app (repeatable)")
    st.add_argument("-o", "--output", choices=["table", "text", "json"],
                    help="table (default on a terminal), text (one line each; default otherwise) or json")
    st.set_defaults(func=cmd_status)

    ex = _command(sub, "explain", help="why the last candidate did or did not move in one environment, and "
                                       "the command that would change it",
                  example="gitops-promoter explain web staging", config=True, workdir=True)
    ex.add_argument("app")
    ex.add_argument("env")
    ex.set_defaults(func=cmd_explain)

    pr = _command(sub, "promote", help="with --tag: promote that tag through the environment's mode (a commit, "
                                       "or a pull request); without: advance the gate its canary waits at",
                  example="gitops-promoter promote web staging --tag v1.4.2   # a chosen tag\n"
                          "gitops-promoter promote web dev                    # pass the gate, no analysis",
                  config=True, workdir=True)
    pr.add_argument("app")
    pr.add_argument("env")
    pr.add_argument("--tag", help="the tag to promote (it must be in the registry; a rejected tag needs `allow` "
                                  "first)")
    pr.set_defaults(func=cmd_promote)

    rb = _command(sub, "rollback", help="revert the environment's live release in git now (a person decides)",
                  example="gitops-promoter rollback web prod", config=True, workdir=True)
    rb.add_argument("app")
    rb.add_argument("env")
    rb.set_defaults(func=cmd_decide, force="rollback")

    al = _command(sub, "allow", help="lift a rejection: the tag is a candidate in that environment again "
                                     "(a commit with trailers, like the rejection)",
                  example="gitops-promoter allow web dev v1.4.2", config=True, workdir=True)
    al.add_argument("app")
    al.add_argument("env")
    al.add_argument("tag")
    al.set_defaults(func=cmd_allow)

    c = _command(sub, "check-config", help="validate a config file, and the canaries' AnalysisTemplates and "
                                           "Rollout steps where the repository is readable here",
                 example="gitops-promoter check-config promoter.yaml\ngitops-promoter check-config --config "
                         "/etc/gitops-promoter/promoter.yaml", config=True, workdir=True)
    c.add_argument("file", nargs="?", help="the config file (or --config)")
    c.set_defaults(func=cmd_check_config)

    analysis = _command(sub, "analysis", help="try AnalysisTemplates and metrics before a rollout",
                        example="gitops-promoter analysis run web dev --gate 1", codes=False)
    asub = analysis.add_subparsers(dest="analysis_command", required=True, metavar="COMMAND")
    ar = _command(asub, "run", help="run a gate's metrics once against Prometheus; print each value, its phase "
                                    "and the reason",
                  example="gitops-promoter analysis run --config promoter.yaml web dev --gate 1\n"
                          "gitops-promoter analysis run --template analysis-template.yaml \\\n"
                          "    --prometheus http://prometheus:9090 --arg service-name=web",
                  config=True, workdir=True)
    ar.add_argument("app", nargs="?", help="with the config: the app whose canary analysis to run")
    ar.add_argument("env", nargs="?", help="with the config: the environment ({env} in a template path)")
    ar.add_argument("--gate", type=int, help="the gate's step index (canary.gates; default: canary.analysis)")
    ar.add_argument("--template", metavar="FILE", help="an AnalysisTemplate file, instead of APP ENV")
    ar.add_argument("--prometheus", metavar="URL", help="with --template: the Prometheus to query")
    ar.add_argument("--arg", action="append", default=[], metavar="NAME=VALUE",
                    help="with --template: an argument (repeatable; overrides the template's value)")
    ar.add_argument("--gate-window", default="5m", help="with --template: canary.gate_window for metrics without "
                                                        "count (default 5m)")
    ar.set_defaults(func=cmd_analysis_run)
    ev = _command(asub, "evaluate", help="read {metric: ..., measurements: [...]} (YAML or JSON) on stdin; print "
                                         "the phase and each measurement's phase and reason as JSON",
                  example="echo '{metric: {successCondition: \"result[0] >= 0.95\"}, measurements: [{value: "
                          "[0.97]}]}' \\\n  | gitops-promoter analysis evaluate")
    ev.set_defaults(func=cmd_analysis_evaluate)

    tags = _command(sub, "tags", help="tag policy tools",
                    example="echo '{\"policy\": {\"strategy\": \"semver\"}, \"tags\": [\"v1.0.0\"]}' | "
                            "gitops-promoter tags pick", codes=False)
    tsub = tags.add_subparsers(dest="tags_command", required=True, metavar="COMMAND")
    pick = _command(tsub, "pick", help='read {"policy": {...}, "tags": [...]} on stdin, print {"selected": ...}',
                    example="echo '{\"policy\": {\"strategy\": \"semver\", \"constraint\": \"^1.0\"}, "
                            "\"tags\": [\"v1.2.3\", \"v2.0.0\"]}' \\\n  | gitops-promoter tags pick")
    pick.set_defaults(func=cmd_tags_pick)

    edit = _command(sub, "edit", help="format-preserving edits",
                    example="gitops-promoter edit set-image rollout.yaml --container web --image "
                            "ghcr.io/acme/web:v1.2.0", codes=False)
    esub = edit.add_subparsers(dest="edit_command", required=True, metavar="COMMAND")
    si = _command(esub, "set-image", help="set a container's image, like `kustomize edit set image`",
                  example="gitops-promoter edit set-image envs/dev/web/rollout.yaml --container web \\\n"
                          "    --image ghcr.io/acme/web:v1.2.0 --in-place")
    si.add_argument("file")
    si.add_argument("--container", required=True, help="container (or initContainer) name")
    si.add_argument("--image", required=True, help="full reference: name[:tag][@digest]")
    si.add_argument("--in-place", action="store_true", help="rewrite the file instead of printing it")
    si.set_defaults(func=cmd_set_image)
    sp = _command(esub, "set-pause", help="make a canary pause step timed or indefinite (byte-preserving)",
                  example="gitops-promoter edit set-pause envs/dev/web/rollout.yaml --step 1 --indefinite")
    sp.add_argument("file")
    sp.add_argument("--step", type=int, required=True, help="index in spec.strategy.canary.steps")
    how = sp.add_mutually_exclusive_group(required=True)
    how.add_argument("--duration", help="e.g. 10s: the step becomes pause: {duration: 10s}")
    how.add_argument("--indefinite", action="store_true", help="the step becomes pause: {} (a gate)")
    sp.add_argument("--in-place", action="store_true", help="rewrite the file instead of printing it")
    sp.set_defaults(func=cmd_set_pause)
    if only is not None and only not in sub.choices:
        return _parser()
    return p


def cmd_check_config(args: argparse.Namespace) -> int:
    from gitops_promoter.config import load_config
    from gitops_promoter.runtime.checks import check_repositories

    if args.file and args.config and args.file != args.config:
        raise UsageError(f"two configs given: {args.file} and --config {args.config}")
    args.file = config_path(args.file or args.config)
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
    from gitops_promoter.runtime.tryout import evaluate_stdin

    return evaluate_stdin(sys.stdin.read())


def cmd_analysis_run(args: argparse.Namespace) -> int:
    from gitops_promoter.runtime import tryout

    if args.template:
        if args.app or args.env or args.config or args.gate is not None:
            raise UsageError("--template runs a template file on its own: no APP ENV, --config or --gate with it")
        if not args.prometheus:
            raise UsageError("--template needs --prometheus URL")
        pairs = {}
        for raw in args.arg:
            name, sep, value = raw.partition("=")
            if not sep or not name:
                raise UsageError(f"--arg {raw!r}: expected NAME=VALUE")
            pairs[name] = value
        return tryout.run_template(args.template, prometheus=args.prometheus, args=pairs,
                                   gate_window=args.gate_window)
    if not args.app or not args.env:
        raise UsageError("analysis run needs APP ENV (with the config), or --template FILE --prometheus URL")
    if args.prometheus or args.arg:
        raise UsageError("--prometheus and --arg go with --template; with the config, its prometheus and "
                         "analysis args are used")
    return tryout.run_gate(config_path=config_path(args.config), app=args.app, env=args.env, gate=args.gate,
                           workdir=args.workdir)


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
    config = config_path(args.config)
    if not args.once:
        if args.dry_run or args.app:
            raise UsageError("--dry-run and --app need --once")
        from gitops_promoter.runtime.serve import serve

        gc.set_threshold(*_GC_DEFAULT)  # a long life: the interpreter's own rhythm of collections
        return serve(config_path=config, workdir=args.workdir)
    from gitops_promoter.runtime.commands import run_once

    return run_once(config_path=config, dry_run=args.dry_run,
                    apps=frozenset(args.app) if args.app else None, workdir=args.workdir)


def cmd_decide(args: argparse.Namespace) -> int:
    from gitops_promoter.runtime.commands import decide_canary

    return decide_canary(config_path=config_path(args.config), app=args.app, env=args.env, force=args.force,
                         workdir=args.workdir)


def cmd_promote(args: argparse.Namespace) -> int:
    if args.tag is None:
        args.force = "promote"
        return cmd_decide(args)
    from gitops_promoter.runtime.commands import promote_tag

    return promote_tag(config_path=config_path(args.config), app=args.app, env=args.env, tag=args.tag,
                       workdir=args.workdir)


def cmd_allow(args: argparse.Namespace) -> int:
    from gitops_promoter.runtime.commands import allow

    return allow(config_path=config_path(args.config), app=args.app, env=args.env, tag=args.tag,
                 workdir=args.workdir)


def cmd_status(args: argparse.Namespace) -> int:
    from gitops_promoter.runtime.commands import status

    output = args.output or ("table" if sys.stdout.isatty() else "text")
    return status(config_path=config_path(args.config), apps=frozenset(args.app) if args.app else None,
                  workdir=args.workdir, output=output)


def cmd_explain(args: argparse.Namespace) -> int:
    from gitops_promoter.runtime.explain import explain

    return explain(config_path=config_path(args.config), app=args.app, env=args.env, workdir=args.workdir)


if __name__ == "__main__":
    entry()
