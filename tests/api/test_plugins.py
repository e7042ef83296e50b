"""Plugin discovery, isolation of failing plugins, and shutdown order."""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

from app.plugins import API_VERSION, BasePlugin, IngestContext, PluginRegistry, Sample

ROOT = Path(__file__).resolve().parents[2]


def write_plugin(plugin_dir: Path, name: str, body: str) -> None:
    package = plugin_dir / name
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent(body))


GOOD = """
    from app.plugins import BasePlugin

    class Good(BasePlugin):
        name = "good"
        def on_sample_ingested(self, ctx, sample):
            sample.fields["seen_by_good"] = True
            return sample

    plugin = Good()
"""

EXPLODING = """
    from app.plugins import BasePlugin

    class Exploding(BasePlugin):
        name = "exploding"
        def on_startup(self, settings):
            raise RuntimeError("startup boom")
        def on_sample_ingested(self, ctx, sample):
            raise RuntimeError("sample boom")
        def on_shutdown(self):
            raise RuntimeError("shutdown boom")

    plugin = Exploding()
"""


def ctx() -> IngestContext:
    return IngestContext(dataset_id=1, dataset_name="d", format="coco", path=Path("/nowhere"))


def test_discovery_loads_packages_and_reports_broken_ones(tmp_path: Path, caplog) -> None:
    write_plugin(tmp_path, "good", GOOD)
    write_plugin(tmp_path, "syntax_error", "def broken(:\n")
    write_plugin(tmp_path, "no_plugin", "x = 1\n")
    write_plugin(
        tmp_path,
        "future",
        "from app.plugins import BasePlugin\nclass F(BasePlugin):\n    api_version = 99\nplugin = F()\n",
    )
    (tmp_path / "not_a_package").mkdir()
    (tmp_path / "_private").mkdir()
    (tmp_path / "_private" / "__init__.py").write_text("raise SystemExit('must not be imported')\n")
    with caplog.at_level(logging.ERROR):
        registry = PluginRegistry.discover(tmp_path)
    assert [p.name for p in registry.plugins] == ["good"]
    assert set(registry.load_errors) == {"syntax_error", "no_plugin", "future"}
    assert "API version 99" in registry.load_errors["future"]
    assert "future" in caplog.text


def test_enabled_list_limits_what_loads(tmp_path: Path) -> None:
    write_plugin(tmp_path, "good", GOOD)
    write_plugin(tmp_path, "exploding", EXPLODING)
    assert [p.name for p in PluginRegistry.discover(tmp_path, ["exploding"]).plugins] == ["exploding"]
    assert PluginRegistry.discover(tmp_path, []).plugins == []


def test_missing_plugin_dir_loads_nothing(tmp_path: Path) -> None:
    assert PluginRegistry.discover(tmp_path / "absent").plugins == []


def test_a_failing_plugin_is_isolated(tmp_path: Path, caplog) -> None:
    write_plugin(tmp_path, "a_exploding", EXPLODING)
    write_plugin(tmp_path, "b_good", GOOD)
    registry = PluginRegistry.discover(tmp_path)
    assert [p.name for p in registry.plugins] == ["exploding", "good"]
    with caplog.at_level(logging.ERROR):
        registry.startup(settings=None)
        sample = Sample(file_name="a.jpg", path=tmp_path / "a.jpg", width=1, height=1)
        for _ in range(3):
            sample = registry.sample_ingested(ctx(), sample)
        registry.shutdown()
    assert sample.fields == {"seen_by_good": True}
    assert registry.failures[("exploding", "on_sample_ingested")] == 3
    assert registry.failures[("exploding", "on_startup")] == 1
    assert registry.failures[("exploding", "on_shutdown")] == 1
    assert caplog.text.count("failed in on_sample_ingested") == 1  # logged once with its traceback, then counted


def test_shutdown_runs_in_reverse_order_and_only_overriding_hooks_are_called(tmp_path: Path) -> None:
    calls: list[str] = []

    class Recorder(BasePlugin):
        def __init__(self, name: str) -> None:
            self.name = name

        def on_startup(self, settings) -> None:
            calls.append(f"start {self.name}")

        def on_shutdown(self) -> None:
            calls.append(f"stop {self.name}")

    registry = PluginRegistry([Recorder("first"), Recorder("second")])
    registry.startup(None)
    registry.shutdown()
    assert calls == ["start first", "start second", "stop second", "stop first"]
    assert registry.wants_samples is False
    assert API_VERSION == BasePlugin.api_version


def test_brightness_example_plugin_measures_real_photos(tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image
    from skimage import data

    registry = PluginRegistry.discover(ROOT / "plugins", ["brightness"])
    assert registry.wants_samples
    bright = tmp_path / "coffee.jpg"
    Image.fromarray(data.coffee()).save(bright, quality=90)
    dark = tmp_path / "dark.png"
    Image.fromarray((np.asarray(data.astronaut()) // 10).astype("uint8")).save(dark)
    measured = {}
    for path in (bright, dark):
        sample = registry.sample_ingested(
            ctx(), Sample(file_name=path.name, path=path, width=None, height=None, roots=[tmp_path])
        )
        measured[path.name] = sample
    expected = float(np.asarray(Image.open(bright).convert("L")).mean())
    assert abs(measured["coffee.jpg"].fields["brightness"] - expected) < 6
    assert measured["dark.png"].fields["brightness"] < 40
    assert measured["dark.png"].tags == ["dark"]
    assert measured["coffee.jpg"].tags == []
    missing = registry.sample_ingested(
        ctx(), Sample(file_name="x", path=tmp_path / "x.jpg", width=1, height=1, roots=[tmp_path])
    )
    assert missing.fields == {}


def test_server_survives_a_plugin_that_raises_and_runs_shutdown_before_checkpoint(server_factory, tmp_path) -> None:
    plugin_dir = tmp_path / "plugins"
    write_plugin(plugin_dir, "exploding", EXPLODING)
    write_plugin(
        plugin_dir,
        "recorder",
        """
        import logging
        from app.plugins import BasePlugin

        class Recorder(BasePlugin):
            name = "recorder"
            def on_shutdown(self):
                logging.getLogger("recorder").warning("recorder plugin shut down")

        plugin = Recorder()
        """,
    )
    srv = server_factory(plugin_dir=str(plugin_dir))
    with srv, srv.client() as client:
        ready = client.get("/ready").json()
        assert {p["name"] for p in ready["plugins"]} == {"exploding", "recorder"}
        assert client.get("/health").json() == {"status": "ok"}
    log = srv.log()
    assert srv.proc.returncode == 0, log
    assert "startup boom" in log and "shutdown boom" in log
    assert log.index("recorder plugin shut down") < log.index("checkpoint completed")
