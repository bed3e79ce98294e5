"""Fixed ids and numbers of the demo call the factories describe."""

from typing import Final

__all__ = [
    "DEMO_BOT_ID",
    "DEMO_CALL_ID",
    "DEMO_CAMPAIGN_ID",
    "DEMO_CLINIC",
    "DEMO_CLINIC_NUMBER",
    "DEMO_CONTACT_ID",
    "DEMO_CONTACT_NUMBER",
    "DEMO_WORKER_ID",
    "DEMO_WORKSPACE_ID",
]

DEMO_CALL_ID: Final = "call_0194a7c3e8005a1b2c3d4e5f60718293"
DEMO_BOT_ID: Final = "appointment-demo"
DEMO_WORKSPACE_ID: Final = "ws-demo"
DEMO_CAMPAIGN_ID: Final = "spring-recall-2026"
DEMO_CONTACT_ID: Final = "hubspot:1042"
DEMO_WORKER_ID: Final = "ori-worker-default-7d9f8b6c5-x2k4p"
DEMO_CLINIC_NUMBER: Final = "+14155550100"
DEMO_CONTACT_NUMBER: Final = "+14155550142"
DEMO_CLINIC: Final = "Bright Smile Dental"
