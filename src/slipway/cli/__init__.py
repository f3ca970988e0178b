"""`slipway` command line. Commands parse options, call the service layer and render; errors
are rendered once, in `main`, as one line (or `{"error": ...}` under --json)."""

from slipway.cli import commands, deletion, projects
from slipway.cli import serve as serve  # registers `slipway serve`
from slipway.cli import sync as sync  # registers `slipway sync`
from slipway.cli import users as users  # registers `slipway user`
from slipway.cli._app import app, main
from slipway.cli._render import follow, print_project

__all__ = ["app", "commands", "deletion", "follow", "main", "print_project", "projects"]
