"""The plugin contract third parties code against: BasePlugin, its hooks, and the registry."""

from app.plugins.base import API_VERSION, BasePlugin, IngestContext, Sample
from app.plugins.registry import PluginRegistry

__all__ = ["API_VERSION", "BasePlugin", "IngestContext", "PluginRegistry", "Sample"]
