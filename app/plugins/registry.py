"""Discovers plugins in the plugin directory and calls their hooks, isolating every failure."""

from __future__ import annotations

import importlib.util
import logging
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from app.plugins.base import API_VERSION, BasePlugin, IngestContext, Sample

log = logging.getLogger(__name__)

HOOKS = ("on_startup", "on_shutdown", "on_ingest_started", "on_sample_ingested", "on_ingest_completed")


class PluginRegistry:
    def __init__(self, plugins: list[BasePlugin] | None = None) -> None:
        self.plugins: list[BasePlugin] = list(plugins or [])
        self.failures: Counter[tuple[str, str]] = Counter()
        self.load_errors: dict[str, str] = {}

    # -- discovery -------------------------------------------------------------------------------------
    @classmethod
    def discover(cls, plugin_dir: Path, enabled: list[str] | None = None) -> PluginRegistry:
        registry = cls()
        if not plugin_dir.is_dir():
            log.info("plugin directory %s does not exist; no plugins loaded", plugin_dir)
            return registry
        for package in sorted(plugin_dir.iterdir()):
            if not (package / "__init__.py").is_file() or package.name.startswith(("_", ".")):
                continue
            if enabled is not None and package.name not in enabled:
                continue
            registry._load(package)
        if enabled is not None:
            for missing in sorted(set(enabled) - {p.name for p in registry.plugins} - set(registry.load_errors)):
                log.warning("plugin %r is enabled but was not found in %s", missing, plugin_dir)
        return registry

    def _load(self, package: Path) -> None:
        module_name = f"datavisor_plugin_{package.name}"
        try:
            spec = importlib.util.spec_from_file_location(
                module_name, package / "__init__.py", submodule_search_locations=[str(package)]
            )
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
            plugin = getattr(module, "plugin", None)
            if not isinstance(plugin, BasePlugin):
                raise TypeError("the package must define `plugin`, an instance of app.plugins.BasePlugin")
            if plugin.api_version != API_VERSION:
                raise TypeError(f"plugin API version {plugin.api_version} != server API version {API_VERSION}")
        except Exception as error:  # noqa: BLE001 - a broken plugin must not stop the server
            sys.modules.pop(module_name, None)
            self.load_errors[package.name] = f"{type(error).__name__}: {error}"
            log.error("plugin %s not loaded: %s", package.name, self.load_errors[package.name])
            return
        self.plugins.append(plugin)
        log.info("plugin %s loaded (%s)", plugin.name, package)

    # -- hooks -----------------------------------------------------------------------------------------
    def _call(self, plugin: BasePlugin, hook: str, *args: Any) -> tuple[bool, Any]:
        try:
            return True, getattr(plugin, hook)(*args)
        except Exception:  # noqa: BLE001 - isolation is the point
            self.failures[(plugin.name, hook)] += 1
            count = self.failures[(plugin.name, hook)]
            if count == 1:
                log.exception("plugin %s failed in %s; continuing without it", plugin.name, hook)
            elif count in (10, 100, 1000) or count % 10000 == 0:
                log.error("plugin %s has failed %d times in %s", plugin.name, count, hook)
            return False, None

    def _implementing(self, hook: str) -> list[BasePlugin]:
        return [p for p in self.plugins if getattr(type(p), hook) is not getattr(BasePlugin, hook)]

    def startup(self, settings: Any) -> None:
        for plugin in self.plugins:
            self._call(plugin, "on_startup", settings)

    def shutdown(self) -> None:
        for plugin in reversed(self.plugins):
            self._call(plugin, "on_shutdown")

    def ingest_started(self, ctx: IngestContext) -> None:
        for plugin in self._implementing("on_ingest_started"):
            self._call(plugin, "on_ingest_started", ctx)

    @property
    def wants_samples(self) -> bool:
        """False when no plugin looks at single samples, so importers can skip building them."""
        return bool(self._implementing("on_sample_ingested"))

    def sample_ingested(self, ctx: IngestContext, sample: Sample) -> Sample:
        for plugin in self._implementing("on_sample_ingested"):
            ok, result = self._call(plugin, "on_sample_ingested", ctx, sample)
            if ok and isinstance(result, Sample):
                sample = result
        return sample

    def ingest_completed(self, ctx: IngestContext, summary: dict[str, Any]) -> None:
        for plugin in self._implementing("on_ingest_completed"):
            self._call(plugin, "on_ingest_completed", ctx, summary)

    def describe(self) -> list[dict[str, Any]]:
        loaded = [
            {"name": p.name, "api_version": p.api_version, "description": p.description, "loaded": True}
            for p in self.plugins
        ]
        broken = [{"name": n, "loaded": False, "error": e} for n, e in sorted(self.load_errors.items())]
        return loaded + broken
