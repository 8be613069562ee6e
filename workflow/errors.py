"""The one exception type a command line turns into a one-line message."""


class WorkflowError(Exception):
    """A problem the user can fix (missing cache, bad data, other weights): its message says how."""
