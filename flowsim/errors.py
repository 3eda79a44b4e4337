"""Errors a user can cause, with the place in their input that caused them.

Everything a scenario file, a trace or a command line can get wrong is raised as a
:class:`ScenarioError`; the CLI turns it into a one-line message and exit code 2.
Any other exception is a bug in flowsim.
"""
from __future__ import annotations


class FlowsimError(Exception):
    """Base class of the errors flowsim raises on purpose."""


class ScenarioError(FlowsimError):
    """Bad input: names the file, line, field path and what was expected.

    ``field`` is a dotted path such as ``functions[0].concurrency[1].limit``.
    """

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 field: str | None = None) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.field = field
        super().__init__(self.format())

    def format(self) -> str:
        """``file:line: field: message``, leaving out the parts that are unknown."""
        where = ""
        if self.file:
            where = self.file + (f":{self.line}" if self.line else "")
        elif self.line:
            where = f"line {self.line}"
        parts = [p for p in (where, self.field) if p]
        return ": ".join(parts + [self.message])


class ScenarioWarning(UserWarning):
    """A combination Inngest accepts but ignores (e.g. batching with a rate limit)."""
