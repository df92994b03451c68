"""The failures a user can fix: each carries a one-line message that says what to do.

`cli.run` prints any `UserError` as one `error: ...` line and exits with status 2.
"""


class UserError(Exception):
    """A problem with what the user gave (a flag, a file, a folder); the message says what to do."""


class UsageError(UserError):
    """A flag value or input that the script cannot use."""


class ConfigError(UsageError, ValueError):
    """A network setting that cannot build a network.

    A ValueError too, for code that builds a network directly.
    """


class DataError(UserError):
    """A dataset or an input image cannot be had or read."""


class CheckpointError(UserError):
    """A checkpoint file is missing, unreadable or of another architecture."""


def first_line(e):
    """The first line of an exception's message, short enough for a one-line error."""
    return ((str(e).strip().splitlines() or [type(e).__name__])[0])[:120]
