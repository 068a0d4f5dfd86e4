"""The one exception type a user can cause: a short message that says what is wrong and how to fix it.

The CLI turns a GradscopeError into its message and exit code 2, with no traceback (``--debug`` shows it).
Anything else that escapes is a bug in gradscope and keeps its traceback.
"""

from __future__ import annotations


class GradscopeError(Exception):
    """A problem with the user's input (files, options, data, model) that the user can fix.

    ``message`` says what is wrong; ``fix`` says what to do about it; ``user_traceback`` carries the last frames
    of the user's own traceback when their code raised, already formatted and attributed to their file.
    """

    def __init__(self, message: str, fix: str | None = None, user_traceback: str | None = None):
        super().__init__(message)
        self.message = message
        self.fix = fix
        self.user_traceback = user_traceback

    def __str__(self) -> str:
        return self.message if not self.fix else f"{self.message}\n  fix: {self.fix}"
