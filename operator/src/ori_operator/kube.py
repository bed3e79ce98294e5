"""The only module that talks to the Kubernetes API (kopf's own watches aside).

Requests go through kubernetes_asyncio's generic `call_api` (its auth, TLS and in-cluster
token refresh) and answers are read as raw JSON: the reconcile code works on plain dicts, and a
pool of hundreds of pods is listed without building client model objects.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException
from kubernetes_asyncio.config.config_exception import ConfigException

from ori_contracts.crds import GROUP, VERSION

__all__ = ["ApiException", "Conflict", "Kube"]

Manifest = dict[str, Any]
_JSON = "application/json"
_MERGE_PATCH = "application/merge-patch+json"
_CONFLICT, _NOT_FOUND = 409, 404


class Conflict(Exception):
    """The object changed (or went away) since it was read: act on a fresh read."""


class Kube:
    """Kubernetes calls the operator makes besides kopf's watches."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api

    @classmethod
    async def connect(cls, kubeconfig: Path | None = None) -> Kube:
        """Use `kubeconfig` if given, else the in-cluster ServiceAccount, else `KUBECONFIG`."""
        configuration = client.Configuration()
        if kubeconfig is not None:
            await config.load_kube_config(str(kubeconfig), client_configuration=configuration)
            return cls(client.ApiClient(configuration))
        try:
            config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        except ConfigException:
            await config.load_kube_config(client_configuration=configuration)
        return cls(client.ApiClient(configuration))

    async def close(self) -> None:
        """Close the connection pool."""
        await self.api.close()

    async def _call(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]] | None = None,
        body: Any = None,
        content_type: str = _JSON,
    ) -> Any:
        response = await self.api.call_api(
            path,
            method,
            query_params=query or [],
            header_params={"Accept": _JSON, "Content-Type": content_type},
            body=body,
            auth_settings=["BearerToken"],
            _preload_content=False,
        )
        return json.loads(await response.read())

    async def list_pods(self, namespace: str, selector: str) -> list[Manifest]:
        """Every pod matching `selector` in `namespace` (a consistent read)."""
        path = f"/api/v1/namespaces/{quote(namespace)}/pods"
        answer = await self._call("GET", path, query=[("labelSelector", selector)])
        items: list[Manifest] = answer["items"]
        return items

    async def create_pod(self, namespace: str, manifest: Manifest) -> str:
        """Create a pod; answers its (generated) name."""
        path = f"/api/v1/namespaces/{quote(namespace)}/pods"
        created = await self._call("POST", path, body=manifest)
        return str(created["metadata"]["name"])

    async def delete_pod(self, namespace: str, name: str, resource_version: str) -> None:
        """Delete a pod only if it is still at `resource_version` (gone already is fine).

        Raises:
            Conflict: It changed since it was read; it is left alone.
        """
        options = {"preconditions": {"resourceVersion": resource_version}}
        path = f"/api/v1/namespaces/{quote(namespace)}/pods/{quote(name)}"
        try:
            await self._call("DELETE", path, body=options)
        except ApiException as error:
            if error.status == _NOT_FOUND:
                return
            if error.status == _CONFLICT:
                raise Conflict(f"pod {namespace}/{name} changed; not deleted") from error
            raise

    async def patch_pod_metadata(
        self,
        namespace: str,
        name: str,
        *,
        labels: dict[str, str | None],
        annotations: dict[str, str | None],
    ) -> None:
        """Merge-patch a pod's labels and annotations (None removes one; gone is fine)."""
        body = {"metadata": {"labels": labels, "annotations": annotations}}
        path = f"/api/v1/namespaces/{quote(namespace)}/pods/{quote(name)}"
        try:
            await self._call("PATCH", path, body=body, content_type=_MERGE_PATCH)
        except ApiException as error:
            if error.status != _NOT_FOUND:
                raise

    async def get_custom(self, plural: str, namespace: str, name: str) -> Manifest | None:
        """One of Ori's custom objects, or None if it does not exist."""
        path = f"/apis/{GROUP}/{VERSION}/namespaces/{quote(namespace)}/{plural}/{quote(name)}"
        try:
            found: Manifest = await self._call("GET", path)
        except ApiException as error:
            if error.status == _NOT_FOUND:
                return None
            raise
        return found

    async def config_value(self, kind: str, namespace: str, name: str, key: str) -> str | None:
        """One key of a ConfigMap (`kind="configmaps"`) or Secret (`"secrets"`), as text.

        Returns:
            The value, or None when the object or the key does not exist.
        """
        path = f"/api/v1/namespaces/{quote(namespace)}/{kind}/{quote(name)}"
        try:
            found: Manifest = await self._call("GET", path)
        except ApiException as error:
            if error.status == _NOT_FOUND:
                return None
            raise
        if kind == "secrets":
            encoded = (found.get("data") or {}).get(key)
            return None if encoded is None else base64.b64decode(encoded).decode()
        value = (found.get("data") or {}).get(key)
        return None if value is None else str(value)

    async def patch_status(self, plural: str, namespace: str, name: str, status: Manifest) -> None:
        """Merge-patch the `/status` subresource of one of Ori's custom objects."""
        path = (
            f"/apis/{GROUP}/{VERSION}/namespaces/{quote(namespace)}/{plural}/{quote(name)}/status"
        )
        try:
            await self._call("PATCH", path, body={"status": status}, content_type=_MERGE_PATCH)
        except ApiException as error:
            if error.status != _NOT_FOUND:  # deleted meanwhile: nothing to report on
                raise
