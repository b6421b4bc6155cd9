"""How the demo speaks: rich on a terminal, plain text (no colour codes) when stdout is a pipe or
a file. Every line names who is speaking: the demo (headings and what a person does), a shell
command and its output, the promoter (its log), the cluster (Argo CD and Argo Rollouts)."""

from __future__ import annotations

import time

from rich.console import Console
from rich.markup import escape
from rich.text import Text

console = Console(highlight=False, soft_wrap=True)
STARTED = time.monotonic()

# The promoter's actions (its log's `action` field) and their colour on a terminal.
ACTION_STYLE = {"bumped": "green", "advanced": "green", "merged": "green", "proposed": "cyan",
                "reverted": "red", "rejected": "red", "error": "red", "analysing": "yellow",
                "waiting": "yellow", "inconclusive": "yellow"}


def clock() -> str:
    seconds = time.monotonic() - STARTED
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"


_steps = [0]


def step(title: str) -> None:
    """A numbered heading: the next part of the story."""
    _steps[0] += 1
    console.print()
    console.print(Text(f"━━ {_steps[0]}. {title}", style="bold"))


def say(text: str) -> None:
    """What is happening and why, in the demo's words."""
    console.print(Text(text))


def shell(command: str, output: str = "") -> None:
    console.print(Text(f"$ {command}", style="bold cyan"))
    if output:
        console.print(Text(output.rstrip("\n")))


def voice(who: str, text: str, style: str = "") -> None:
    """A line from the promoter, the cluster, GitHub or a person, with the demo's clock."""
    console.print(Text.assemble((f"  {clock():>6} ", "dim"), (f"{who:<9}│ ", "bold"), (text, style)))


def where(label: str, value: str) -> None:
    console.print(f"  [bold]{escape(label):<22}[/bold] {escape(value)}")
