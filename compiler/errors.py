"""Errors a user can cause. Each names the place, the broken constraint and the remedy."""

from __future__ import annotations


class SnncError(Exception):
    """Base of every error the CLI reports as one line without a traceback."""


class ModelError(SnncError):
    """A model file cannot be read or lowered: names the file, the node and what to do."""

    def __init__(self, path: str | None, node: str | None, message: str, hint: str = "",
                 what: str = "node"):
        self.path, self.node, self.message, self.hint = path, node, message, hint
        where = path or "<model>"
        if node is not None:
            where += f": {what} '{node}'"
        text = f"{where}: {message}"
        if hint:
            text += f" ({hint})"
        super().__init__(text)


class UnsupportedNode(ModelError):
    """A node/layer type the frontend cannot lower."""


class IRError(SnncError):
    """The IR breaks an invariant; names the population, projection or port."""

    def __init__(self, node: str, message: str):
        self.node, self.message = node, message
        super().__init__(f"IR node '{node}': {message}")


class InputError(SnncError):
    """Input arrays for a run do not match the model's input ports."""
