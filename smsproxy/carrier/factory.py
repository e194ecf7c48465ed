"""Pick the carrier the settings ask for."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..config import Settings
from . import Carrier

if TYPE_CHECKING:
    from ..runtime import Runtime


def make_carrier(settings: Settings, runtime: Runtime) -> Carrier:
    if settings.carrier == "vonage":
        from .vonage import VonageCarrier

        return VonageCarrier(settings)
    from .sandbox import SandboxCarrier

    return SandboxCarrier(runtime)
