"""Why the model refuses something."""

from __future__ import annotations


class ModelError(Exception):
    """Base of every refusal the model makes."""


class InvalidInput(ModelError):
    """A guest RPC the hypervisor refuses: rendered as ``<rpc>: Invalid input: <reason>, please see ...``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Refused(ModelError):
    """A control request (from the test, standing in for vCenter) that cannot be carried out."""
