"""The ``inferstack`` command: one module per subcommand, heavy imports inside each ``run``."""
