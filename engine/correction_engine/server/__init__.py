"""The engine's HTTP server: speaks the correction API contract over the engine's operations."""

from .app import create_app
from .background import RunningEngine, run_in_thread
from .faults import FaultSettings
from .settings import EngineSettings

__all__ = ["EngineSettings", "FaultSettings", "RunningEngine", "create_app", "run_in_thread"]
