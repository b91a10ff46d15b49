"""Adapter discovery through the ``ventros_channels.adapters`` entry-point group.

Built-in adapters register through the package's own entry points, exactly like a
third-party package: installing a distribution that declares::

    [project.entry-points."ventros_channels.adapters"]
    sms = "my_package.adapter:SmsAdapter"

makes channel type ``sms`` available. A plug-in that fails to import, declares a name
already taken, or is not a valid adapter is recorded in :attr:`AdapterRegistry.errors`
(naming the distribution and the cause) and skipped; the others keep working.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import attrs

from ventros_channels.adapters.base import Capability, ChannelAdapter
from ventros_channels.domain.config import (
    ENTRY_POINT_GROUP,
    ChannelConfig,
    register_config_model,
)
from ventros_channels.domain.types import ChannelType
from ventros_channels.errors import AdapterLoadError, AdapterNotFoundError

__all__ = ["ENTRY_POINT_GROUP", "AdapterInfo", "AdapterRegistry", "default_registry"]


@attrs.frozen
class AdapterInfo:
    """A registered adapter and where it came from."""

    name: str
    adapter: ChannelAdapter[Any]
    distribution: str | None = None
    version: str | None = None

    @property
    def capabilities(self) -> frozenset[Capability]:
        return self.adapter.capabilities


def _dist(ep: EntryPoint) -> tuple[str | None, str | None]:
    dist = ep.dist
    if dist is None:
        return None, None
    return dist.metadata["Name"], dist.version


def _validate(name: str, obj: object) -> ChannelAdapter[Any]:
    adapter = obj() if isinstance(obj, type) else obj
    if not isinstance(adapter, ChannelAdapter):
        raise TypeError(f"{obj!r} is not a ChannelAdapter")
    ctype = getattr(adapter, "channel_type", None)
    if not isinstance(ctype, str) or ChannelType(ctype) != name:
        raise TypeError(f"its channel_type {ctype!r} differs from the entry point name {name!r}")
    model = getattr(adapter, "config_model", None)
    if not (isinstance(model, type) and issubclass(model, ChannelConfig)):
        raise TypeError("config_model is not a ChannelConfig subclass")
    if model.channel_type != name:
        raise TypeError(f"config_model.channel_type is {model.channel_type!r}, not {name!r}")
    return adapter


class AdapterRegistry:
    """Adapters by channel type. Entry points are read on first use and loaded lazily."""

    def __init__(self, *, group: str = ENTRY_POINT_GROUP, blocked: Iterable[str] = ()) -> None:
        self.group = group
        self._blocked = set(blocked)
        self._loaded: dict[str, AdapterInfo] = {}
        self._pending: dict[str, EntryPoint] = {}
        self._errors: list[AdapterLoadError] = []
        self._discovered = False
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- discovery

    def _discover(self) -> None:
        if self._discovered:
            return
        with self._lock:
            if self._discovered:
                return
            seen: dict[str, str | None] = {n: i.distribution for n, i in self._loaded.items()}
            for ep in entry_points(group=self.group):
                dist, _ = _dist(ep)
                if ep.name in self._blocked:
                    continue
                if ep.name in seen or ep.name in self._pending:
                    first = seen.get(ep.name) or _dist(self._pending[ep.name])[0]
                    self._errors.append(
                        AdapterLoadError(
                            ep.name, dist, f"name already provided by distribution {first!r}"
                        )
                    )
                    continue
                self._pending[ep.name] = ep
            self._discovered = True

    def _load(self, name: str) -> AdapterInfo | None:
        ep = self._pending.pop(name, None)
        if ep is None:
            return None
        dist, version = _dist(ep)
        try:
            adapter = _validate(name, ep.load())
        except Exception as exc:  # a broken plug-in must not break the others
            self._errors.append(AdapterLoadError(name, dist, f"{type(exc).__name__}: {exc}"))
            return None
        info = AdapterInfo(name, adapter, dist, version)
        self._loaded[name] = info
        register_config_model(adapter.config_model)
        return info

    # ---------------------------------------------------------------- API

    def register(
        self,
        adapter: ChannelAdapter[Any] | type[ChannelAdapter[Any]],
        *,
        replace: bool = False,
    ) -> AdapterInfo:
        """Register an adapter explicitly (tests, apps without packaging)."""
        name = str(adapter.channel_type)
        instance = _validate(name, adapter)
        self._discover()
        if not replace and (name in self._loaded or name in self._pending):
            raise AdapterLoadError(name, None, "an adapter with this name is already registered")
        self._pending.pop(name, None)
        info = AdapterInfo(name, instance)
        self._loaded[name] = info
        register_config_model(instance.config_model)
        return info

    def block(self, name: str) -> None:
        """Disable an adapter by name without uninstalling it."""
        self._blocked.add(name)
        self._pending.pop(name, None)
        self._loaded.pop(name, None)

    def get(self, channel_type: str) -> ChannelAdapter[Any]:
        """The adapter for a type, or :class:`AdapterNotFoundError` (with load errors named)."""
        info = self._loaded.get(channel_type)
        if info is not None:
            return info.adapter
        self._discover()
        info = self._loaded.get(channel_type) or self._load(channel_type)
        if info is None:
            failed = [e for e in self._errors if e.name == channel_type]
            if failed:
                raise failed[-1]
            raise AdapterNotFoundError(channel_type, self.names())
        return info.adapter

    def __contains__(self, channel_type: object) -> bool:
        if not isinstance(channel_type, str):
            return False
        try:
            self.get(channel_type)
        except (AdapterNotFoundError, AdapterLoadError):
            return False
        return True

    def names(self) -> list[str]:
        """Every known adapter name (loaded or not yet loaded), sorted."""
        self._discover()
        return sorted({*self._loaded, *self._pending})

    def load_all(self) -> list[AdapterInfo]:
        """Load every discovered adapter; failures go to :attr:`errors`."""
        for name in list(self.names()):
            if name not in self._loaded:
                self._load(name)
        return [self._loaded[n] for n in sorted(self._loaded)]

    @property
    def errors(self) -> list[AdapterLoadError]:
        """Plug-ins that could not be registered, with distribution and cause."""
        return list(self._errors)

    def config_model(self, channel_type: str) -> type[ChannelConfig] | None:
        try:
            return self.get(channel_type).config_model
        except (AdapterNotFoundError, AdapterLoadError):
            return None


_default: AdapterRegistry | None = None


def default_registry() -> AdapterRegistry:
    """The process-wide registry fed by installed entry points."""
    global _default  # noqa: PLW0603
    if _default is None:
        _default = AdapterRegistry()
    return _default
