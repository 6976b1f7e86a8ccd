"""The storage ports, each with its two adapters: database (relational), cache, queue,
documents and files. Each is opened once at start and closed at shutdown by ``mengchong.app``."""


class StartupError(Exception):
    """A storage port could not be opened at start; the message names it."""
