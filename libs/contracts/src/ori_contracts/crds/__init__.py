"""Ori's Kubernetes custom resources (`ori.dev/v1alpha1`): typed specs and statuses.

`Bot`, `Campaign` and `FleetPool` are pydantic models here; `render.render_crd` turns each
into its CustomResourceDefinition (written to `crds/` by `tools/gen_crds.py`), and the operator
validates every object it reads with the same models.
"""

from typing import Final

from ori_contracts.crds.bot import BOT, BotLlm, BotSpec, BotStatus, BotStt, BotTts
from ori_contracts.crds.campaign import (
    CAMPAIGN,
    CallingWindow,
    CampaignProgress,
    CampaignSpec,
    CampaignStatus,
    ContactsSource,
    DesiredCampaignState,
)
from ori_contracts.crds.common import (
    API_VERSION,
    GROUP,
    VERSION,
    Condition,
    ConditionStatus,
    ConfigMapKeyRef,
    CustomResource,
    LocalObjectRef,
)
from ori_contracts.crds.fleetpool import (
    DRAINING_LABEL,
    FLEETPOOL,
    FLEETPOOL_LABEL,
    FleetPoolKeda,
    FleetPoolSpec,
    FleetPoolStatus,
    ImagePullPolicy,
    ResourceRequirements,
    WorkerTemplate,
)
from ori_contracts.crds.render import render_crd

RESOURCES: Final = (BOT, CAMPAIGN, FLEETPOOL)
"""Every Ori kind, in the order the CRD files are written."""

__all__ = [
    "API_VERSION",
    "BOT",
    "CAMPAIGN",
    "DRAINING_LABEL",
    "FLEETPOOL",
    "FLEETPOOL_LABEL",
    "GROUP",
    "RESOURCES",
    "VERSION",
    "BotLlm",
    "BotSpec",
    "BotStatus",
    "BotStt",
    "BotTts",
    "CallingWindow",
    "CampaignProgress",
    "CampaignSpec",
    "CampaignStatus",
    "Condition",
    "DesiredCampaignState",
    "ConditionStatus",
    "ConfigMapKeyRef",
    "ContactsSource",
    "CustomResource",
    "FleetPoolKeda",
    "FleetPoolSpec",
    "FleetPoolStatus",
    "ImagePullPolicy",
    "LocalObjectRef",
    "ResourceRequirements",
    "WorkerTemplate",
    "render_crd",
]
