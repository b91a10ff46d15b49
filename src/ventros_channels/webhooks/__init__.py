"""Sans-IO webhook values and signature checks."""

from ventros_channels.webhooks.request import VerificationKeys, WebhookRequest, WebhookResponse
from ventros_channels.webhooks.signatures import (
    check_freshness,
    hmac_hex,
    verify_hmac,
    verify_shared_token,
)

__all__ = [
    "VerificationKeys",
    "WebhookRequest",
    "WebhookResponse",
    "check_freshness",
    "hmac_hex",
    "verify_hmac",
    "verify_shared_token",
]
