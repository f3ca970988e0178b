"""The CLI's help and usage errors in the shell's language.

English is the msgid: help strings stay where they are written (Typer `help=` and command
docstrings), and `localize_tree` replaces them once, in the click command tree built for
one run, with their translation from Slipway's catalog.

The framework's own words need two mechanisms, because Typer 0.29 runs on the click it
bundles (`typer._click`), not on the installed click:

- Typer's rich help reads its panel titles and `[default: …]`-style labels from module
  constants of `typer.rich_utils`, bound at import (through `gettext.gettext`, whose
  catalogs are .mo files on disk: Slipway compiles its catalog in memory).
  `framework_words` sets them from the catalog for the run, with a highlighter that folds
  Chinese text rather than cutting it, and puts the English ones back afterwards.
- The bundled click writes its words (`Usage:`, the help option's help, every usage error)
  as f-strings, with no gettext call to hook a catalog into (click's own supported way, a
  gettext domain bound with `gettext.bindtextdomain`, would not reach them). So: `Usage:`
  comes from a HelpFormatter given to every command through its `context_class` (click's
  documented extension point), the help option's help is translated with the tree, and a
  usage error's message is matched against the English templates it is built from
  (`USAGE_ERRORS`, each a catalog msgid) and rebuilt from the Chinese one; a message that
  matches none is shown as click wrote it.

Usage errors under `--json` are not translated: scripts parse them (main decides).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import re
import string
import sys
from collections.abc import Iterator, Mapping
from typing import IO, Any, Final

import typer
import typer.rich_utils
from rich.text import Text
from typer._click.formatting import HelpFormatter

from slipway.i18n import DEFAULT, translations

USAGE: Final = "Usage:"
HELP_OPTION: Final = "Show this message and exit."
TRY_HELP: Final = "Try '{command} {option}' for help."
ERROR: Final = "Error: {message}"

# typer.rich_utils constant → its English text (the msgid).
RICH_WORDS: Final[Mapping[str, str]] = {
    "DEPRECATED_STRING": "(deprecated) ",
    "DEFAULT_STRING": "[default: {}]",
    "ENVVAR_STRING": "[env var: {}]",
    "REQUIRED_LONG_STRING": "[required]",
    "ARGUMENTS_PANEL_TITLE": "Arguments",
    "OPTIONS_PANEL_TITLE": "Options",
    "COMMANDS_PANEL_TITLE": "Commands",
    "ERRORS_PANEL_TITLE": "Error",
    "ABORTED_TEXT": "Aborted.",
    "RICH_HELP": "Try [blue]'{command_path} {help_option}'[/] for help.",
}

# The messages of Typer's click, as templates: the first that matches a whole message
# wins, so a longer form comes before the shorter one it extends. `reason` and `detail` are
# themselves messages and are translated in turn.
USAGE_ERRORS: Final = (
    "{error} (Possible options: {options})",
    "No such option: {name}",
    "No such command {name}. Did you mean {suggestions}?",
    "No such command {name}.",
    "Missing command.",
    "Missing argument {name}. {detail}",
    "Missing argument {name}.",
    "Missing option {name}. {detail}",
    "Missing option {name}.",
    "Missing parameter {name}.",
    "Missing parameter: {name}",
    "Choose from:\n\t{choices}",
    "Invalid value for {name}: {reason}",
    "Invalid value: {reason}",
    "Value error, {reason}",
    "{value} is not one of {choices}.",
    "Value {value} is not a valid {kind}.",
    "Value must be an iterable.",
    "Input should be a valid integer, unable to parse string as an integer",
    "Input should be a valid number, unable to parse string as a number",
    "Input should be greater than or equal to {limit}",
    "Input should be less than or equal to {limit}",
    "Got unexpected extra argument(s) ({args})",
    "Option {name} does not take a value.",
    "Option {name} requires an argument.",
    "Option {name} requires {count} arguments.",
    "Argument {name} takes {count} values.",
)
_NESTED: Final = frozenset({"error", "reason", "detail"})

FRAMEWORK_WORDS: Final = (
    USAGE,
    HELP_OPTION,
    TRY_HELP,
    ERROR,
    *RICH_WORDS.values(),
    *USAGE_ERRORS,
)


def _commands(command: Any) -> Mapping[str, Any]:
    commands: Mapping[str, Any] = getattr(command, "commands", None) or {}
    return commands


def help_texts(command: Any, path: str = "slipway") -> Iterator[tuple[str, str]]:
    """Every help text of the tree under `command`, as (where it is shown, the text)."""
    for attribute in ("help", "short_help", "epilog"):
        text = getattr(command, attribute, None)
        if text:
            yield f"{path} ({attribute})", text
    for param in command.params:
        text = getattr(param, "help", None)
        if text:
            yield f"{path} {param.name}", text
    for name, sub in _commands(command).items():
        yield from help_texts(sub, f"{path} {name}")


@functools.cache
def _context_class(language: str) -> type[typer.Context]:
    """A click Context whose usage line starts with `Usage:` in `language`."""
    usage = f"{translations(language).gettext(USAGE)} "

    class Formatter(HelpFormatter):
        def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
            super().write_usage(prog, args, usage if prefix is None else prefix)

    class LocalizedContext(typer.Context):
        formatter_class = Formatter

    return LocalizedContext


def localize_tree(command: Any, language: str) -> None:
    """Replaces every help text under `command` with its translation (once per run: Typer
    builds a new tree for each `get_command`)."""
    gettext = translations(language).gettext
    for attribute in ("help", "short_help", "epilog"):
        text = getattr(command, attribute, None)
        if text:
            setattr(command, attribute, gettext(text))
    for param in command.params:
        if getattr(param, "help", None):
            param.help = gettext(param.help)
    command.context_class = _context_class(language)
    # The help option is made on first use and kept: make it now, with the context the
    # command will have, to translate it with the rest.
    help_option = command.get_help_option(command.context_class(command))
    if help_option is not None and help_option.help:
        help_option.help = gettext(help_option.help)
    for sub in _commands(command).values():
        localize_tree(sub, language)


def summarize_tree(command: Any) -> None:
    """Gives every command under `command` a one-line summary for its group's list: Typer's
    rich help keeps the line breaks of a docstring's first paragraph there, which broke
    a long summary in the middle of the panel. Run after `localize_tree`."""
    for sub in _commands(command).values():
        if sub.help and not sub.short_help:
            sub.short_help = " ".join(inspect.cleandoc(sub.help).split("\n\n")[0].split())
        summarize_tree(sub)


@functools.cache
def _highlighter(language: str) -> typer.rich_utils.OptionHighlighter:
    """Typer's help highlighter, for `language`: its `Usage:` is styled like the English
    one, and its text folds. Rich breaks lines only at spaces, so a Chinese sentence is one
    long word that a table column would cut short with an ellipsis; folded, it wraps."""
    usage = re.escape(f"{translations(language).gettext(USAGE)} ")

    class Highlighter(typer.rich_utils.OptionHighlighter):
        highlights = [*typer.rich_utils.OptionHighlighter.highlights, f"(?P<usage>{usage})"]

        def highlight(self, text: Text) -> None:
            super().highlight(text)
            text.overflow = "fold"

    return Highlighter()


@contextlib.contextmanager
def framework_words(language: str) -> Iterator[None]:
    """Typer's rich help words in `language` for the duration (English restored after);
    English changes nothing."""
    if language == DEFAULT:
        yield
        return
    gettext = translations(language).gettext
    names = (*RICH_WORDS, "highlighter")
    saved = {name: getattr(typer.rich_utils, name) for name in names}
    try:
        for name, msgid in RICH_WORDS.items():
            setattr(typer.rich_utils, name, gettext(msgid))
        typer.rich_utils.highlighter = _highlighter(language)
        yield
    finally:
        for name, value in saved.items():
            setattr(typer.rich_utils, name, value)


@functools.cache
def _pattern(template: str) -> re.Pattern[str]:
    """`template` as a regular expression with one named group per placeholder."""
    parts = []
    for literal, name, _, _ in string.Formatter().parse(template):
        parts.append(re.escape(literal))
        if name is not None:
            parts.append(f"(?P<{name}>.+?)")
    return re.compile("".join(parts), re.DOTALL)


def translate_message(message: str, language: str) -> str:
    """A message of Typer's click in `language`, rebuilt from the template it matches (as
    it is when it matches none, or the catalog has no translation)."""
    gettext = translations(language).gettext
    for template in USAGE_ERRORS:
        match = _pattern(template).fullmatch(message)
        if match is None:
            continue
        values = {
            name: translate_message(value, language) if name in _NESTED else value
            for name, value in match.groupdict().items()
        }
        return gettext(template).format(**values)
    return message


def show_usage_error(exc: Any, language: str, file: IO[str] | None = None) -> int:
    """A usage error as click shows it (usage line, help hint, `Error: …`), in `language`."""
    stream = file if file is not None else sys.stderr
    gettext = translations(language).gettext
    ctx = getattr(exc, "ctx", None)
    if ctx is not None:
        hint = ""
        if ctx.command.get_help_option(ctx) is not None:
            hint = gettext(TRY_HELP).format(
                command=ctx.command_path, option=ctx.help_option_names[0]
            )
            hint += "\n"
        print(f"{ctx.get_usage()}\n{hint}", file=stream)
    message = translate_message(exc.format_message(), language)
    print(gettext(ERROR).format(message=message), file=stream, flush=True)
    return int(getattr(exc, "exit_code", 2))
