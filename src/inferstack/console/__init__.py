"""inferstack's web console, served by the gateway under ``/ui``: keys, teams and users, models,
usage and spend, request logs and a playground, over the gateway's own HTTP API.

The page is plain HTML, CSS and ES-module JavaScript shipped in the package (no build step, no
CDN); charts are SVG drawn by its own script.
"""

from inferstack.console.app import Console, mount_console
from inferstack.console.settings import ConsoleSettings

__all__ = ["Console", "ConsoleSettings", "mount_console"]
