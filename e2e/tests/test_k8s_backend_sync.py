"""Bot and Campaign resources synced into the real backend by the operator.

`kubectl apply -f crds/samples/bot.yaml` makes the bot appear in the backend and the resource
Ready; an edit makes a new backend version; drift in the backend is corrected; deleting the
resource removes the bot (its finalizer waits for that). A Campaign is created in the backend
with the contacts of its ConfigMap, started, paused, reports progress and its dialler lease,
and is stopped and deleted with its resource. An edited contact list is imported again: new
rows are added, rows already in the campaign skipped, pending contacts taken off the list
withdrawn, a list with bad rows refused with their count in status. An operator killed after
the backend answered but before it wrote the status re-runs the sync on start and creates no
second campaign and no second import.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from redis import Redis

from ori_contracts import redis_keys
from ori_e2e.backend import backend_env, create_api_key, run_backend, sign_up
from ori_e2e.pytest_plugin import unique_name
from ori_e2e.servers import KubeCluster, MongoServer
from ori_e2e.toolcache import find_binary
from ori_e2e.waiting import eventually
from ori_operator.testing import CRDS_DIR, Kubectl, OperatorProcess

pytestmark = pytest.mark.e2e

T = TypeVar("T")
SAMPLE = CRDS_DIR / "samples" / "bot.yaml"


@dataclass
class Backend:
    url: str
    user: dict[str, str]
    operator_key: str

    def get(self, path: str) -> httpx.Response:
        return httpx.get(f"{self.url}/api/v1{path}", headers=self.user, timeout=10)


@pytest.fixture
async def backend(
    mongo_server: MongoServer, mongo_db_name: str, redis_url: str, tmp_path: Path
) -> AsyncIterator[Backend]:
    env = backend_env(
        tmp_path, mongodb_uri=mongo_server.url, mongodb_db=mongo_db_name, redis_url=redis_url
    )
    with run_backend(tmp_path / "backend", env) as running:
        async with httpx.AsyncClient(base_url=running.url, timeout=10) as http:
            account = await sign_up(http, "ops@example.com", name="Ops")
            key = await create_api_key(http, account, name="operator", manager="kubernetes")
        yield Backend(running.url, account.headers, key)


@pytest.fixture
def kubectl(kube: KubeCluster, request: pytest.FixtureRequest) -> Iterator[Kubectl]:
    cluster = Kubectl(find_binary("kubernetes", "kubectl"), kube.kubeconfig)
    cluster.install_crds()
    namespace = unique_name(request, sep="-", limit=40)
    kube.create_namespace(namespace)
    yield cluster.in_namespace(namespace)
    cluster.run("delete", "namespace", namespace, "--wait=false")


@pytest.fixture
async def operator(
    kube: KubeCluster, kubectl: Kubectl, backend: Backend, redis_url: str, tmp_path: Path
) -> AsyncIterator[OperatorProcess]:
    env = {
        "KUBECONFIG": str(kube.kubeconfig),
        "REDIS_URL": redis_url,
        "WATCH_NAMESPACES": kubectl.namespace or "",
        "BACKEND_URL": backend.url,
        "BACKEND_TOKEN": backend.operator_key,
        "BACKEND_RESYNC_INTERVAL_S": "1",
    }
    process = OperatorProcess(env, tmp_path / "operator.log")
    process.start()
    yield process
    process.stop()


def bot_status(kubectl: Kubectl, name: str = "front-desk") -> dict[str, Any]:
    status: dict[str, Any] = kubectl.json("get", "bot", name).get("status", {})
    return status


def condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    return next((c for c in status.get("conditions", []) if c["type"] == kind), {})


async def test_a_bot_is_synced_versioned_corrected_and_deleted(
    kubectl: Kubectl, backend: Backend, operator: OperatorProcess
) -> None:
    kubectl.apply(SAMPLE)

    async def live(version: int) -> dict[str, Any] | None:
        status = bot_status(kubectl)
        ready = condition(status, "Ready").get("status") == "True"
        return status if ready and status.get("version") == version else None

    status = await eventually(lambda: live(1), "the Bot Ready at version 1")
    assert condition(status, "Synced")["reason"] == "UpToDate"
    assert status["observedGeneration"] == 1
    stored = backend.get(f"/bots/{status['backend_id']}").json()
    assert stored["spec"]["name"] == "Front desk"
    assert stored["external_ref"] == f"{kubectl.namespace}.front-desk"
    assert (stored["managed_by"], stored["read_only"]) == ("kubernetes", True)

    patch = {"spec": {"persona": {"greeting": "Hello, Acme Dental speaking."}}}
    kubectl.run("patch", "bot", "front-desk", "--type=merge", "-p", json.dumps(patch))
    status = await eventually(lambda: live(2), "a new backend version after an edit")
    assert status["observedGeneration"] == 2
    stored = backend.get(f"/bots/{status['backend_id']}").json()
    assert stored["spec"]["persona"]["greeting"] == "Hello, Acme Dental speaking."

    ref = f"{kubectl.namespace}.front-desk"
    as_operator = {"Authorization": f"Bearer {backend.operator_key}"}
    async with httpx.AsyncClient(base_url=backend.url, headers=as_operator) as http:
        gone = await http.delete(f"/api/v1/bots/by-ref/{ref}")
    assert gone.status_code == 204  # drift: someone removed it from the backend
    status = await eventually(lambda: live(3), "the bot restored in the backend", within_s=20)
    assert backend.get(f"/bots/{status['backend_id']}").status_code == 200

    kubectl.run("delete", "bot", "front-desk", "--wait=true", "--timeout=30s")
    assert backend.get(f"/bots/{status['backend_id']}").status_code == 404


async def test_a_bot_the_models_refuse_is_not_ready_and_says_why(
    kubectl: Kubectl, backend: Backend, operator: OperatorProcess
) -> None:
    text = SAMPLE.read_text().replace("name: front-desk", "name: wrong-kb")
    text = text.replace("    - type: end_call\n", "    - type: end_call\n"
                        "    - {type: search_knowledge, knowledge_base_ids: [faq]}\n")  # fmt: skip
    kubectl.apply(text)  # the schema accepts it; the tool names a knowledge base the bot lacks

    async def refused() -> dict[str, Any] | None:
        ready = condition(bot_status(kubectl, "wrong-kb"), "Ready")
        return ready if ready.get("reason") == "InvalidSpec" else None

    ready = await eventually(refused, "Ready=False InvalidSpec")
    assert ready["status"] == "False"
    assert "unknown knowledge bases ['faq']" in ready["message"]
    assert backend.get("/bots").json()["data"] == []  # nothing reached the backend


async def test_a_campaign_is_created_started_paused_and_deleted_in_the_backend(
    kubectl: Kubectl, backend: Backend, operator: OperatorProcess, redis_url: str
) -> None:
    for sample in ("bot.yaml", "fleetpool.yaml", "campaign.yaml"):
        kubectl.apply(CRDS_DIR / "samples" / sample)

    async def campaign_in(state: str) -> dict[str, Any] | None:
        status = kubectl.json("get", "campaign", "spring-recall").get("status", {})
        synced = condition(status, "Synced").get("status") == "True"
        return status if synced and status.get("state") == state else None

    status = await eventually(lambda: campaign_in("running"), "the campaign running", within_s=45)
    assert status["progress"]["total"] == 2
    assert status["contacts_imported"] == 2
    stored = backend.get(f"/campaigns/{status['backend_id']}").json()
    assert (stored["name"], stored["state"], stored["fleet_pool"]) == (
        "Spring recall",
        "running",
        "default",
    )
    bot = kubectl.json("get", "bot", "front-desk")["status"]
    assert stored["bot_id"] == bot["backend_id"]

    redis = Redis.from_url(redis_url)
    redis.set(redis_keys.campaign_lease(status["backend_id"]), "dialler-7f9c", ex=30)
    redis.close()

    async def leased() -> dict[str, Any] | None:
        found = kubectl.json("get", "campaign", "spring-recall").get("status", {})
        return found if found.get("lease_holder") == "dialler-7f9c" else None

    await eventually(leased, "the lease holder in status")
    kubectl.run("patch", "campaign", "spring-recall", "--type=merge",
                "-p", json.dumps({"spec": {"state": "paused"}}))  # fmt: skip
    await eventually(lambda: campaign_in("paused"), "the campaign paused")
    assert backend.get(f"/campaigns/{status['backend_id']}").json()["state"] == "paused"

    kubectl.run("delete", "campaign", "spring-recall", "--wait=true", "--timeout=30s")
    assert backend.get(f"/campaigns/{status['backend_id']}").status_code == 404


async def test_a_campaign_sync_rerun_after_a_crash_creates_no_duplicate(
    kubectl: Kubectl, backend: Backend, operator: OperatorProcess
) -> None:
    for sample in ("bot.yaml", "fleetpool.yaml", "campaign.yaml"):
        kubectl.apply(CRDS_DIR / "samples" / sample)

    async def synced_running() -> dict[str, Any] | None:
        status = kubectl.json("get", "campaign", "spring-recall").get("status", {})
        synced = condition(status, "Synced").get("status") == "True"
        done = synced and status.get("state") == "running" and status.get("backend_id")
        return status if done and status.get("contacts_imported") == 2 else None

    first = await eventually(synced_running, "the campaign running", within_s=45)
    operator.kill()  # SIGKILL: no clean-up
    # The crash window: the backend holds the campaign and its contacts, the resource's status
    # records neither (the operator died between the backend's answers and its status write).
    forget = [{"op": "remove", "path": f"/status/{field}"}
              for field in ("backend_id", "contacts_digest", "contacts_imported")]  # fmt: skip
    kubectl.run("patch", "campaign", "spring-recall", "--subresource=status", "--type=json",
                "-p", json.dumps(forget))  # fmt: skip
    assert "backend_id" not in kubectl.json("get", "campaign", "spring-recall")["status"]
    operator.start()

    again = await eventually(synced_running, "the campaign synced again", within_s=45)
    assert again["backend_id"] == first["backend_id"]
    campaigns = backend.get("/campaigns").json()
    assert [c["id"] for c in campaigns] == [first["backend_id"]]
    stored = backend.get(f"/campaigns/{first['backend_id']}").json()
    assert stored["progress"]["total"] == 2  # the contacts were not imported twice
    assert (stored["managed_by"], stored["read_only"]) == ("kubernetes", True)
    assert stored["external_ref"] == f"{kubectl.namespace}.spring-recall"
    async with httpx.AsyncClient(base_url=f"{backend.url}/api/v1", headers=backend.user) as http:
        by_person = await http.post(f"/campaigns/{first['backend_id']}/state",
                                    json={"state": "paused"})  # fmt: skip
    assert by_person.status_code == 403

    samples = {  # the restarted operator's own reconcile metrics, parsed
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(operator.metrics())
        for s in family.samples
    }

    def metric(name: str, **labels: str) -> float:
        return samples.get((name, frozenset(labels.items())), 0.0)

    for kind in ("Bot", "Campaign"):
        ok = metric("ori_operator_reconcile_total", kind=kind, outcome="ok")
        errors = metric("ori_operator_reconcile_total", kind=kind, outcome="error")
        timed = metric("ori_operator_reconcile_duration_seconds_count", kind=kind)
        # every pass is both counted and timed (one may be between the two at scrape time)
        assert ok >= 1 and abs(timed - (ok + errors)) <= 1, (kind, ok, errors, timed)


CONTACTS = "id,phone,name\nc-001,+14155550101,Ada\nc-002,+14155550102,Grace\n"


async def test_an_edited_contact_list_is_imported_again_adding_and_withdrawing_rows(
    kubectl: Kubectl, backend: Backend, operator: OperatorProcess
) -> None:
    for sample in ("bot.yaml", "fleetpool.yaml", "campaign.yaml"):
        kubectl.apply(CRDS_DIR / "samples" / sample)

    def edit_list(csv: str) -> None:
        patch = {"data": {"contacts.csv": csv}}
        kubectl.run("patch", "configmap", "spring-recall-contacts", "--type=merge",
                    "-p", json.dumps(patch))  # fmt: skip

    async def contacts(**wanted: Any) -> dict[str, Any] | None:
        status = kubectl.json("get", "campaign", "spring-recall").get("status", {})
        got = {**status, "total": status.get("progress", {}).get("total"),
               "listed": condition(status, "ContactsImported").get("status")}  # fmt: skip
        return status if all(got.get(k) == v for k, v in wanted.items()) else None

    first = await eventually(lambda: contacts(contacts_imported=2, state="running", total=2),
                             "the first list imported", within_s=45)  # fmt: skip
    assert condition(first, "ContactsImported")["reason"] == "Imported"

    grown = CONTACTS + "c-003,+14155550103,Alan\n"
    edit_list(grown)
    status = await eventually(
        lambda: contacts(contacts_imported=1, contacts_skipped=2, total=3, listed="True"),
        "the new row imported, the others skipped",
    )
    assert status["contacts_digest"] != first["contacts_digest"]

    edit_list(grown + "c-004,12,Bad number\nc-005,+14155550105,Eve,extra\n")
    status = await eventually(lambda: contacts(contacts_invalid_rows=2, listed="False"),
                              "the list with two bad rows refused")  # fmt: skip
    refused = condition(status, "ContactsImported")
    assert refused["reason"] == "InvalidRows"
    assert "row 4 phone: '12' is not a valid phone number" in refused["message"]
    assert "row 5 *: has 4 fields, the header has 3" in refused["message"]
    assert (status["progress"]["total"], status["state"]) == (3, "running")  # nothing imported

    edit_list(grown)  # back to a list imported before: its import is answered, not repeated
    status = await eventually(lambda: contacts(listed="True", contacts_invalid_rows=0),
                              "the earlier list answered again")  # fmt: skip
    answered = condition(status, "ContactsImported")["message"]
    assert answered.endswith("(by an earlier import of the same list)"), answered
    assert status["progress"]["total"] == 3
    stored = backend.get(f"/campaigns/{status['backend_id']}/contacts").json()["data"]
    assert sorted(c["id"] for c in stored) == ["c-001", "c-002", "c-003"]

    edit_list(grown.replace("c-002,+14155550102,Grace\n", ""))  # Grace taken off the list
    status = await eventually(
        lambda: contacts(contacts_withdrawn=1, contacts_imported=0, total=2, listed="True"),
        "the contact taken off the list withdrawn",
    )
    stored = backend.get(f"/campaigns/{status['backend_id']}/contacts").json()["data"]
    assert sorted(c["id"] for c in stored) == ["c-001", "c-003"]

    uploaded = {"spec": {"contacts": {"config_map_ref": None, "list_id": "spring-2026"}}}
    kubectl.run("patch", "campaign", "spring-recall", "--type=merge", "-p", json.dumps(uploaded))
    status = await eventually(
        lambda: _with_reason(kubectl, "UploadedList"), "the uploaded list reported"
    )
    assert status["contacts_digest"]  # what the operator imported before stays recorded


async def _with_reason(kubectl: Kubectl, reason: str) -> dict[str, Any] | None:
    status: dict[str, Any] = kubectl.json("get", "campaign", "spring-recall").get("status", {})
    return status if condition(status, "ContactsImported").get("reason") == reason else None
