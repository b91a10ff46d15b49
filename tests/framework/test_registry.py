"""Adapter discovery: entry points, duplicates, broken plug-ins, explicit registration."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from typing import Any

import pytest

from ventros_channels import AdapterLoadError, AdapterNotFoundError
from ventros_channels.adapters import AdapterRegistry
from ventros_channels.adapters import registry as registry_module


class FakeDist:
    def __init__(self, name: str) -> None:
        self.metadata = {"Name": name}
        self.version = "9.9"


def fake_entry_point(name: str, value: str, dist: str) -> EntryPoint:
    ep = EntryPoint(name=name, value=value, group="ventros_channels.adapters")
    return ep._for(FakeDist(dist))  # type: ignore[attr-defined,no-any-return]


@pytest.fixture
def plugins(monkeypatch: pytest.MonkeyPatch) -> list[EntryPoint]:
    eps: list[EntryPoint] = []

    def fake(group: str) -> list[EntryPoint]:
        return [e for e in eps if e.group == group]

    monkeypatch.setattr(registry_module, "entry_points", fake)
    return eps


def test_a_plugin_is_found_through_its_entry_point(plugins: list[EntryPoint]) -> None:
    plugins.append(fake_entry_point("webchat", "ventros_webchat.adapter:WebchatAdapter", "wc"))
    registry = AdapterRegistry()
    assert registry.names() == ["webchat"]
    adapter = registry.get("webchat")
    assert type(adapter).__name__ == "WebchatAdapter"
    (info,) = registry.load_all()
    assert (info.distribution, info.version) == ("wc", "9.9")


def test_a_broken_plugin_is_reported_and_does_not_break_others(plugins: list[EntryPoint]) -> None:
    plugins.append(fake_entry_point("broken", "no_such_module_here:Adapter", "broken-dist"))
    plugins.append(fake_entry_point("webchat", "ventros_webchat.adapter:WebchatAdapter", "wc"))
    registry = AdapterRegistry()
    loaded = registry.load_all()
    assert [i.name for i in loaded] == ["webchat"]
    (error,) = registry.errors
    assert error.distribution == "broken-dist"
    assert "ModuleNotFoundError" in str(error)
    with pytest.raises(AdapterLoadError):
        registry.get("broken")


def test_a_duplicate_name_is_reported_with_both_distributions(plugins: list[EntryPoint]) -> None:
    plugins.append(fake_entry_point("webchat", "ventros_webchat.adapter:WebchatAdapter", "first"))
    plugins.append(fake_entry_point("webchat", "ventros_webchat.adapter:WebchatAdapter", "second"))
    registry = AdapterRegistry()
    assert registry.get("webchat") is not None
    (error,) = registry.errors
    assert error.distribution == "second"
    assert "first" in str(error)


def test_an_entry_point_that_is_not_an_adapter_is_rejected(plugins: list[EntryPoint]) -> None:
    plugins.append(fake_entry_point("webchat", "json:dumps", "bad"))
    registry = AdapterRegistry()
    assert registry.load_all() == []
    assert "not a ChannelAdapter" in str(registry.errors[0])


def test_unknown_type_names_the_available_ones(plugins: list[EntryPoint]) -> None:
    plugins.append(fake_entry_point("webchat", "ventros_webchat.adapter:WebchatAdapter", "wc"))
    with pytest.raises(AdapterNotFoundError, match="webchat"):
        AdapterRegistry().get("sms")


def test_explicit_register_and_block(plugins: list[EntryPoint]) -> None:
    from ventros_webchat import WebchatAdapter

    registry = AdapterRegistry()
    registry.register(WebchatAdapter)
    assert "webchat" in registry
    with pytest.raises(AdapterLoadError, match="already registered"):
        registry.register(WebchatAdapter())
    registry.block("webchat")
    assert "webchat" not in registry


def test_plugin_config_models_become_known(plugins: list[EntryPoint]) -> None:
    from ventros_channels import Channel
    from ventros_channels.adapters import default_registry

    default_registry()  # installs the config resolver for plug-in types
    channel = Channel.create(
        tenant_id="t",
        project_id="00000000-0000-4000-8000-000000000001",
        name="site",
        channel_type="webchat",
        config={"site_id": "s1", "base_url": "https://c.test", "api_key": "k"},
    )
    snapshot: dict[str, Any] = channel.to_snapshot()
    assert Channel.from_snapshot(snapshot).config == channel.config
