"""Example ventros-channels adapter plug-in for a signed-JSON web chat widget."""

from ventros_webchat.adapter import WebchatAdapter, WebchatConfig

__all__ = ["WebchatAdapter", "WebchatConfig"]
