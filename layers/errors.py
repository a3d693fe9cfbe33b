"""The errors of `layers` queries and services, each a builtin's subclass.

The API maps them to HTTP codes in one table (`api.errors`): a `NotFoundError` is a 404, a
`ParameterError` a 422.
"""

from __future__ import annotations


class NotFoundError(LookupError):
    """A record, scoring run, cell or ward the store does not hold, or the reader may not see."""


class ParameterError(ValueError):
    """An argument that cannot be used, such as an invalid H3 cell id."""
