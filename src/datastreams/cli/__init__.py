"""The ``datastreams`` command line.

``serve`` runs the service. ``domains``, ``keys``, ``streams``, ``dead-letters`` and
``replay`` work directly on the database named by ``--db`` (or ``DATASTREAMS_DB``), and
a running ``serve`` on the same database applies their changes within a second.
``publish`` posts events to a running service. ``receiver`` runs an HTTPS endpoint to
deliver to, and ``demo`` runs the whole chain with simulated traffic.

Exit codes: 0 success, 1 rejected input or a failed operation (standard error names the
field and the value), 2 a usage error such as an invalid option or setting.
"""

# Importing the command modules registers their commands on ``main``.
from datastreams.cli import admin, dead_letters, delivery, demo, publish, receiver, serve
from datastreams.cli.base import main

__all__ = ["admin", "dead_letters", "delivery", "demo", "main", "publish", "receiver", "serve"]
