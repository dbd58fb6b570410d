#!/usr/bin/env python3
"""The official Python `kubernetes` client (PyPI), unmodified, against a federation apiserver.

Usage:  FCP_URL=http://127.0.0.1:PORT python3 tests/python/test_client.py [-v] [TestName ...]

Run by the Rust test `python_client_suite` (crates/apiserver/tests/it/python_client.rs) against a fresh server
on the embedded store and on etcd. Plain `unittest`; no pytest needed.

Tests that need a server feature that is not implemented yet are listed in EXPECTED_TO_FAIL_UNTIL_IMPLEMENTED
and skipped with the reason printed. With FCP_RUN_EXPECTED_FAILURES=1 they run as expected failures instead:
one that passes is reported as an "unexpected success" (and fails the run), which means it is time to remove
it from the list. FCP_RUN_EXPECTED_FAILURES=show runs them as ordinary tests, printing why they fail.

Needs `pip install kubernetes` (written against 37.0.2). The run fails, it does not skip, without it.
"""

import base64
import inspect
import logging
import os
import sys
import tempfile
import threading
import time
import unittest
import uuid

try:
    import kubernetes  # noqa: F401
    from kubernetes import client, utils, watch
    from kubernetes.client.exceptions import ApiException
    from kubernetes.dynamic import DynamicClient
    from kubernetes.informer import SharedInformer
    from kubernetes.leaderelection import electionconfig, leaderelection
    from kubernetes.leaderelection.resourcelock.leaselock import LeaseLock
except ImportError as e:  # pragma: no cover - the message is the point
    print(
        "FAIL: the Python package `kubernetes` is not importable ({}): pip install kubernetes".format(e),
        file=sys.stderr,
    )
    sys.exit(2)

# The leader-election test makes a leader step down by raising, and stopping an informer shuts its socket:
# the client logs both with tracebacks. The tests check the outcomes themselves.
logging.getLogger("leaderelection").setLevel(logging.CRITICAL)
logging.getLogger("kubernetes.informer.informer").setLevel(logging.CRITICAL)

URL = os.environ.get("FCP_URL")
# "1": run the listed tests as expected failures; "show": run them as ordinary tests, to see why they fail.
RUN_EXPECTED = os.environ.get("FCP_RUN_EXPECTED_FAILURES", "")

# How long any single expectation may take.
DEADLINE = 30.0
# Server-side timeout of every watch, so that a missing event fails the test instead of hanging it.
WATCH_TIMEOUT = 10

# Test name -> the missing feature. Remove an entry when the feature lands (FCP_RUN_EXPECTED_FAILURES=1
# shows which now pass).
EXPECTED_TO_FAIL_UNTIL_IMPLEMENTED: dict = {}

MERGE = "application/merge-patch+json"


def wait_for(what, check, timeout=DEADLINE, interval=0.05):
    """Re-evaluates `check` until it returns a truthy value; fails after `timeout` naming `what`."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            value = check()
        except Exception as e:  # noqa: BLE001 - the last error is part of the failure message
            value, last = None, e
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after {}s waiting for {}; last error: {!r}".format(timeout, what, last))
        time.sleep(interval)


def status_reason(e):
    """The `reason` of the Status in an ApiException body."""
    import json

    try:
        return json.loads(e.body)["reason"]
    except Exception:  # noqa: BLE001
        return None


def b64(text):
    return base64.b64encode(text.encode()).decode()


def configmap(name, data=None, labels=None, finalizers=None):
    return client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name=name, labels=labels, finalizers=finalizers),
        data=data,
    )


def deployment(name, containers, replicas=None):
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1DeploymentSpec(
            replicas=replicas,
            selector=client.V1LabelSelector(match_labels={"app": name}),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels={"app": name}),
                spec=client.V1PodSpec(
                    containers=[client.V1Container(name=n, image=image) for n, image in containers]
                ),
            ),
        ),
    )


def images(dep):
    return sorted((c.name, c.image) for c in dep.spec.template.spec.containers)


class ClientSuite(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        configuration = client.Configuration()
        configuration.host = URL
        # LeaseLock builds its own CoordinationV1Api() from the default configuration.
        client.Configuration.set_default(configuration)
        cls.api_client = client.ApiClient(configuration)
        cls.core = client.CoreV1Api(cls.api_client)
        cls.apps = client.AppsV1Api(cls.api_client)
        cls.coordination = client.CoordinationV1Api(cls.api_client)

    def namespace(self):
        """A fresh namespace for this test."""
        short = self._testMethodName[len("test_"):].replace("_", "-")[:40]
        name = "py-{}-{}".format(short, uuid.uuid4().hex[:5])
        self.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
        return name

    def assertApiError(self, status, reason, call, *args, **kwargs):
        with self.assertRaises(ApiException) as raised:
            call(*args, **kwargs)
        self.assertEqual(raised.exception.status, status, raised.exception.body)
        if reason is not None:
            self.assertEqual(status_reason(raised.exception), reason, raised.exception.body)
        return raised.exception

    # ------------------------------------------------------------------ CRUD

    def test_namespace_crud(self):
        name = "py-ns-{}".format(uuid.uuid4().hex[:6])
        created = self.core.create_namespace(
            client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels={"team": "a"}))
        )
        self.assertEqual(created.metadata.name, name)
        self.assertEqual(created.status.phase, "Active")
        read = self.core.read_namespace(name)
        self.assertEqual(read.metadata.labels.get("kubernetes.io/metadata.name"), name)
        listed = self.core.list_namespace(label_selector="team=a")
        self.assertIn(name, [n.metadata.name for n in listed.items])
        self.assertIn("default", [n.metadata.name for n in self.core.list_namespace().items])

        read.metadata.labels["extra"] = "yes"
        replaced = self.core.replace_namespace(name, read)
        self.assertEqual(replaced.metadata.labels["extra"], "yes")

        self.core.delete_namespace(name)

        def gone():
            try:
                self.core.read_namespace(name)
                return False
            except ApiException as e:
                return e.status == 404

        wait_for("namespace {} to be finalized and removed".format(name), gone)
        self.assertApiError(403, "Forbidden", self.core.delete_namespace, "default")

    def test_configmap_crud(self):
        ns = self.namespace()
        created = self.core.create_namespaced_config_map(ns, configmap("a", {"k": "v"}, labels={"app": "x"}))
        self.assertEqual(created.data, {"k": "v"})
        self.assertTrue(created.metadata.uid)
        self.assertIsInstance(created.metadata.resource_version, str)
        self.assertIsNotNone(created.metadata.creation_timestamp)
        self.assertApiError(409, "AlreadyExists", self.core.create_namespaced_config_map, ns, configmap("a"))

        read = self.core.read_namespaced_config_map("a", ns)
        self.assertEqual(read.metadata.uid, created.metadata.uid)
        self.assertApiError(404, "NotFound", self.core.read_namespaced_config_map, "missing", ns)

        # A dict body works as well as a model.
        self.core.create_namespaced_config_map(ns, {"metadata": {"name": "b"}, "data": {"x": "y"}})
        listed = self.core.list_namespaced_config_map(ns)
        self.assertEqual(sorted(c.metadata.name for c in listed.items), ["a", "b"])
        self.assertTrue(listed.metadata.resource_version)
        self.assertEqual(len(self.core.list_namespaced_config_map(ns, label_selector="app=x").items), 1)
        self.assertEqual(
            [c.metadata.name for c in self.core.list_namespaced_config_map(ns, field_selector="metadata.name=b").items],
            ["b"],
        )
        everywhere = self.core.list_config_map_for_all_namespaces(label_selector="app=x")
        self.assertIn(("a", ns), [(c.metadata.name, c.metadata.namespace) for c in everywhere.items])

        read.data = {"k": "v2"}
        replaced = self.core.replace_namespaced_config_map("a", ns, read)
        self.assertEqual(replaced.data, {"k": "v2"})
        self.assertNotEqual(replaced.metadata.resource_version, created.metadata.resource_version)

        result = self.core.delete_namespaced_config_map("a", ns)
        # The 37 client returns the Status as a dict here (the declared return type is `object`).
        result = result if isinstance(result, dict) else result.to_dict()
        self.assertEqual((result["kind"], result["status"]), ("Status", "Success"), result)
        self.assertApiError(404, "NotFound", self.core.read_namespaced_config_map, "a", ns)
        self.assertApiError(404, "NotFound", self.core.delete_namespaced_config_map, "a", ns)

        # Creating in a namespace that does not exist is a 404.
        self.assertApiError(404, "NotFound", self.core.create_namespaced_config_map, "no-such-ns", configmap("c"))

    def test_secret_crud(self):
        ns = self.namespace()
        created = self.core.create_namespaced_secret(
            ns,
            client.V1Secret(metadata=client.V1ObjectMeta(name="s"), data={"user": b64("admin")}),
        )
        self.assertEqual(created.data, {"user": b64("admin")})
        read = self.core.read_namespaced_secret("s", ns)
        self.assertEqual(base64.b64decode(read.data["user"]).decode(), "admin")

        read.data = {"password": b64("hunter2")}
        replaced = self.core.replace_namespaced_secret("s", ns, read)
        self.assertEqual(replaced.data, {"password": b64("hunter2")})

        self.core.delete_namespaced_secret("s", ns)
        self.assertApiError(404, "NotFound", self.core.read_namespaced_secret, "s", ns)

    def test_secret_type_field_selector(self):
        ns = self.namespace()
        self.core.create_namespaced_secret(ns, client.V1Secret(metadata=client.V1ObjectMeta(name="o"), type="Opaque"))
        self.core.create_namespaced_secret(
            ns, client.V1Secret(metadata=client.V1ObjectMeta(name="t"), type="example.com/token")
        )
        selected = self.core.list_namespaced_secret(ns, field_selector="type=example.com/token")
        self.assertEqual([s.metadata.name for s in selected.items], ["t"])

    def test_deployment_crud(self):
        ns = self.namespace()
        created = self.apps.create_namespaced_deployment(ns, deployment("web", [("c", "nginx:1.27")], replicas=2))
        self.assertEqual(created.spec.replicas, 2)
        self.assertEqual(created.metadata.generation, 1)

        read = self.apps.read_namespaced_deployment("web", ns)
        self.assertEqual(images(read), [("c", "nginx:1.27")])
        self.assertEqual([d.metadata.name for d in self.apps.list_namespaced_deployment(ns).items], ["web"])

        read.spec.template.spec.containers[0].image = "nginx:1.28"
        replaced = self.apps.replace_namespaced_deployment("web", ns, read)
        self.assertEqual(images(replaced), [("c", "nginx:1.28")])
        self.assertEqual(replaced.metadata.generation, 2)

        self.apps.delete_namespaced_deployment("web", ns)
        self.assertApiError(404, "NotFound", self.apps.read_namespaced_deployment, "web", ns)

    def test_defaults_of_built_in_kinds(self):
        ns = self.namespace()
        secret = self.core.create_namespaced_secret(
            ns, client.V1Secret(metadata=client.V1ObjectMeta(name="s"), string_data={"user": "admin"})
        )
        self.assertEqual(secret.type, "Opaque")
        self.assertEqual(secret.data, {"user": b64("admin")}, "stringData is merged into data")
        self.assertIsNone(secret.string_data, "stringData is never stored")
        created = self.apps.create_namespaced_deployment(ns, deployment("web", [("c", "nginx:1.27")]))
        # Server-side defaulting, as kubectl and the typed clients expect it.
        self.assertEqual(created.spec.replicas, 1)
        self.assertEqual(created.spec.strategy.type, "RollingUpdate")
        self.assertEqual(created.spec.strategy.rolling_update.max_surge, "25%")
        self.assertEqual(created.spec.revision_history_limit, 10)
        self.assertEqual(created.spec.progress_deadline_seconds, 600)
        self.assertEqual(created.spec.template.spec.restart_policy, "Always")
        self.assertEqual(created.spec.template.spec.dns_policy, "ClusterFirst")
        self.assertEqual(created.spec.template.spec.containers[0].image_pull_policy, "IfNotPresent")

    def test_deployment_validation(self):
        ns = self.namespace()
        invalid = deployment("bad", [("c", "nginx")])
        invalid.spec.selector = client.V1LabelSelector(match_labels={"app": "other"})
        error = self.assertApiError(422, "Invalid", self.apps.create_namespaced_deployment, ns, invalid)
        self.assertIn("selector", error.body)

    def test_replace_with_stale_resource_version_conflicts(self):
        ns = self.namespace()
        original = self.core.create_namespaced_config_map(ns, configmap("c", {"v": "1"}))
        fresh = self.core.read_namespaced_config_map("c", ns)
        fresh.data = {"v": "2"}
        self.core.replace_namespaced_config_map("c", ns, fresh)
        original.data = {"v": "stale"}
        self.assertApiError(409, "Conflict", self.core.replace_namespaced_config_map, "c", ns, original)
        self.assertEqual(self.core.read_namespaced_config_map("c", ns).data, {"v": "2"})

    # --------------------------------------------------------------- patches

    def test_merge_patch_with_explicit_content_type(self):
        ns = self.namespace()
        self.core.create_namespaced_config_map(ns, configmap("m", {"a": "1", "b": "2"}))
        patched = self.core.patch_namespaced_config_map(
            "m", ns, {"metadata": {"labels": {"l": "x"}}, "data": {"a": None, "c": "3"}}, _content_type=MERGE
        )
        self.assertEqual(patched.data, {"b": "2", "c": "3"})
        self.assertEqual(patched.metadata.labels, {"l": "x"})

    def test_strategic_merge_patch_dict_body(self):
        ns = self.namespace()
        self.core.create_namespaced_config_map(ns, configmap("s", {"a": "1"}))
        patched = self.core.patch_namespaced_config_map("s", ns, {"data": {"b": "2"}})
        self.assertEqual(patched.data, {"a": "1", "b": "2"})

        self.apps.create_namespaced_deployment(ns, deployment("web", [("a", "a:1")]))
        body = {"spec": {"template": {"spec": {"containers": [{"name": "b", "image": "b:1"}]}}}}
        patched = self.apps.patch_namespaced_deployment("web", ns, body)
        self.assertEqual(images(patched), [("a", "a:1"), ("b", "b:1")], "containers merge by name")
        body = {"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "a:2"}]}}}}
        patched = self.apps.patch_namespaced_deployment("web", ns, body)
        self.assertEqual(images(patched), [("a", "a:2"), ("b", "b:1")])

        # As in the client's e2e test_service_apis: Service ports merge by port.
        service = client.V1Service(
            metadata=client.V1ObjectMeta(name="svc"),
            spec=client.V1ServiceSpec(ports=[client.V1ServicePort(name="http", port=80)], selector={"app": "web"}),
        )
        self.core.create_namespaced_service(ns, service)
        patched = self.core.patch_namespaced_service(
            "svc", ns, {"spec": {"ports": [{"name": "https", "port": 443}]}}
        )
        self.assertEqual(sorted(p.port for p in patched.spec.ports), [80, 443])

    def test_json_patch_list_body(self):
        ns = self.namespace()
        self.core.create_namespaced_config_map(ns, configmap("j", {"a": "1", "r": "x"}))
        patched = self.core.patch_namespaced_config_map(
            "j",
            ns,
            [
                {"op": "test", "path": "/data/a", "value": "1"},
                {"op": "replace", "path": "/data/a", "value": "2"},
                {"op": "add", "path": "/data/c", "value": "3"},
                {"op": "remove", "path": "/data/r"},
            ],
        )
        self.assertEqual(patched.data, {"a": "2", "c": "3"})
        self.assertApiError(
            422,
            None,
            self.core.patch_namespaced_config_map,
            "j",
            ns,
            [{"op": "test", "path": "/data/a", "value": "nope"}],
        )

    # ----------------------------------------------------------------- watch

    def collect_until_deleted(self, ns, name, **kwargs):
        """(type, name, data) of the events of a watch on configmaps until `name` is DELETED."""
        events = []
        w = watch.Watch()
        for event in w.stream(self.core.list_namespaced_config_map, ns, timeout_seconds=WATCH_TIMEOUT, **kwargs):
            obj = event["object"]
            self.assertIsInstance(obj, client.V1ConfigMap, event)
            events.append((event["type"], obj.metadata.name, obj.data))
            if event["type"] == "DELETED" and obj.metadata.name == name:
                w.stop()
        return events

    def test_watch_from_list_resource_version(self):
        ns = self.namespace()
        self.core.create_namespaced_config_map(ns, configmap("before", {"v": "0"}))
        rv = self.core.list_namespaced_config_map(ns).metadata.resource_version
        self.core.create_namespaced_config_map(ns, configmap("w", {"v": "1"}))
        obj = self.core.read_namespaced_config_map("w", ns)
        obj.data = {"v": "2"}
        self.core.replace_namespaced_config_map("w", ns, obj)
        self.core.delete_namespaced_config_map("w", ns)
        events = self.collect_until_deleted(ns, "w", resource_version=rv)
        self.assertEqual(
            events,
            [("ADDED", "w", {"v": "1"}), ("MODIFIED", "w", {"v": "2"}), ("DELETED", "w", {"v": "2"})],
            "exactly the changes after the list's resourceVersion",
        )

    def test_watch_live_changes(self):
        ns = self.namespace()
        self.core.create_namespaced_config_map(ns, configmap("live", {"v": "1"}))
        events = []
        w = watch.Watch()
        for event in w.stream(self.core.list_namespaced_config_map, ns, timeout_seconds=WATCH_TIMEOUT):
            obj = event["object"]
            events.append((event["type"], obj.metadata.name))
            if event["type"] == "ADDED":
                # The stream is open: change the object and see it happen.
                obj.data = {"v": "2"}
                self.core.replace_namespaced_config_map("live", ns, obj)
            elif event["type"] == "MODIFIED":
                self.assertEqual(obj.data, {"v": "2"})
                self.core.delete_namespaced_config_map("live", ns)
            elif event["type"] == "DELETED":
                w.stop()
        self.assertEqual(events, [("ADDED", "live"), ("MODIFIED", "live"), ("DELETED", "live")])

    def test_watch_timeout_ends_the_stream(self):
        ns = self.namespace()
        started = time.monotonic()
        events = list(watch.Watch().stream(self.core.list_namespaced_config_map, ns, timeout_seconds=1))
        self.assertEqual(events, [])
        self.assertLess(time.monotonic() - started, 10, "timeoutSeconds=1 ends the watch")

    def test_informer_follows_changes(self):
        ns = self.namespace()
        self.core.create_namespaced_config_map(ns, configmap("i0", {"v": "0"}))
        informer = SharedInformer(self.core.list_namespaced_config_map, namespace=ns, resync_period=2)
        errors = []
        informer.add_event_handler("ERROR", errors.append)
        informer.start()
        try:

            def cached():
                return sorted((o.metadata.name, tuple(sorted((o.data or {}).items()))) for o in informer.cache.list())

            wait_for("the informer's initial list", lambda: cached() == [("i0", (("v", "0"),))])
            self.core.create_namespaced_config_map(ns, configmap("i1", {"v": "1"}))
            self.core.patch_namespaced_config_map("i0", ns, {"data": {"v": "x"}}, _content_type=MERGE)
            wait_for(
                "the informer to see a create and an update",
                lambda: cached() == [("i0", (("v", "x"),)), ("i1", (("v", "1"),))],
            )
            self.core.delete_namespaced_config_map("i0", ns)
            wait_for("the informer to see a delete", lambda: cached() == [("i1", (("v", "1"),))])
            # Checked before stop(): stopping shuts the watch socket down, which the informer reports as an error.
            self.assertEqual(errors, [])
        finally:
            informer.stop()

    # ------------------------------------------------------------ pagination

    def test_pagination_with_limit_and_continue(self):
        ns = self.namespace()
        names = ["p{}".format(i) for i in range(7)]
        for name in names:
            self.core.create_namespaced_config_map(ns, configmap(name))
        seen, pages, token, rvs = [], 0, None, set()
        while True:
            page = self.core.list_namespaced_config_map(ns, limit=3, _continue=token)
            pages += 1
            self.assertLessEqual(len(page.items), 3)
            seen += [c.metadata.name for c in page.items]
            rvs.add(page.metadata.resource_version)
            if pages == 1:
                self.assertIsNotNone(page.metadata._continue)
                if page.metadata.remaining_item_count is not None:
                    self.assertEqual(page.metadata.remaining_item_count, 4)
                # Created after the first page: not part of this consistent list.
                self.core.create_namespaced_config_map(ns, configmap("zz"))
            token = page.metadata._continue
            if not token:
                break
            self.assertLess(pages, 10, "pagination does not end")
        self.assertEqual(pages, 3)
        self.assertEqual(seen, names)
        self.assertEqual(len(rvs), 1, "every page is read at the first page's resourceVersion")
        self.assertEqual(len(self.core.list_namespaced_config_map(ns).items), 8)
        self.assertApiError(400, "BadRequest", self.core.list_namespaced_config_map, ns, limit=3, _continue="garbage")

    # ------------------------------------------------------------ subresources

    def test_deployment_status_replace(self):
        ns = self.namespace()
        self.apps.create_namespaced_deployment(ns, deployment("web", [("c", "nginx:1")], replicas=2))
        dep = self.apps.read_namespaced_deployment("web", ns)
        dep.status = client.V1DeploymentStatus(replicas=2, ready_replicas=1, observed_generation=1)
        dep.spec.replicas = 9
        updated = self.apps.replace_namespaced_deployment_status("web", ns, dep)
        self.assertEqual((updated.status.replicas, updated.status.ready_replicas), (2, 1))
        self.assertEqual(updated.spec.replicas, 2, "spec is ignored on /status")
        self.assertEqual(self.apps.read_namespaced_deployment_status("web", ns).status.ready_replicas, 1)

        # Writes to the main resource leave the status alone.
        dep = self.apps.read_namespaced_deployment("web", ns)
        dep.status.ready_replicas = 99
        dep.spec.replicas = 3
        replaced = self.apps.replace_namespaced_deployment("web", ns, dep)
        self.assertEqual(replaced.spec.replicas, 3)
        self.assertEqual(replaced.status.ready_replicas, 1)

    def test_deployment_status_merge_patch(self):
        ns = self.namespace()
        self.apps.create_namespaced_deployment(ns, deployment("web", [("c", "nginx:1")]))
        patched = self.apps.patch_namespaced_deployment_status(
            "web", ns, {"status": {"replicas": 1, "availableReplicas": 1}}, _content_type=MERGE
        )
        self.assertEqual((patched.status.replicas, patched.status.available_replicas), (1, 1))

    def test_deployment_status_patch_default_content_type(self):
        ns = self.namespace()
        self.apps.create_namespaced_deployment(ns, deployment("web", [("c", "nginx:1")]))
        patched = self.apps.patch_namespaced_deployment_status(
            "web", ns, {"status": {"replicas": 1, "availableReplicas": 1}}
        )
        self.assertEqual((patched.status.replicas, patched.status.available_replicas), (1, 1))

    # -------------------------------------------------------------- finalizers

    def test_finalizers_hold_deletion_until_removed(self):
        ns = self.namespace()
        self.core.create_namespaced_config_map(ns, configmap("held", {"k": "v"}, finalizers=["example.com/block"]))
        # The answer is the object itself (not a Status); read it raw, as the typed return is V1Status.
        response = self.core.delete_namespaced_config_map("held", ns, _preload_content=False)
        self.assertEqual(response.status, 200)
        held = self.core.read_namespaced_config_map("held", ns)
        self.assertIsNotNone(held.metadata.deletion_timestamp, "deletion is pending")
        self.assertEqual(held.metadata.finalizers, ["example.com/block"])

        held.metadata.finalizers = []
        self.core.replace_namespaced_config_map("held", ns, held)

        def gone():
            try:
                self.core.read_namespaced_config_map("held", ns)
                return False
            except ApiException as e:
                return e.status == 404

        wait_for("the object to go once its last finalizer is removed", gone)

    # ------------------------------------------------------- utils and dynamic

    def yaml_file(self, ns, data_value):
        text = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: from-yaml
  namespace: {ns}
data:
  key: "{value}"
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: yaml-web
  namespace: {ns}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: yaml-web}}
  template:
    metadata:
      labels: {{app: yaml-web}}
    spec:
      containers:
      - name: web
        image: nginx:1.27
""".format(ns=ns, value=data_value)
        handle = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
        handle.write(text)
        handle.close()
        self.addCleanup(os.unlink, handle.name)
        return handle.name

    def test_create_from_yaml(self):
        ns = self.namespace()
        created = utils.create_from_yaml(self.api_client, self.yaml_file(ns, "1"), namespace=ns)
        self.assertEqual(len(created), 2)
        self.assertEqual(self.core.read_namespaced_config_map("from-yaml", ns).data, {"key": "1"})
        self.assertEqual(self.apps.read_namespaced_deployment("yaml-web", ns).spec.replicas, 2)
        with self.assertRaises(utils.FailToCreateError) as raised:
            utils.create_from_yaml(self.api_client, self.yaml_file(ns, "1"), namespace=ns)
        self.assertEqual([e.status for e in raised.exception.api_exceptions], [409, 409])

    def test_create_from_yaml_with_apply(self):
        ns = self.namespace()
        parameters = inspect.signature(utils.create_from_yaml).parameters
        if "apply" in parameters:
            utils.create_from_yaml(self.api_client, self.yaml_file(ns, "1"), namespace=ns, apply=True)
            self.assertEqual(self.core.read_namespaced_config_map("from-yaml", ns).data, {"key": "1"})
            # Idempotent, and a changed value is applied.
            utils.create_from_yaml(self.api_client, self.yaml_file(ns, "2"), namespace=ns, apply=True)
            self.assertEqual(self.core.read_namespaced_config_map("from-yaml", ns).data, {"key": "2"})
        else:  # An older client without `apply`: the same through the dynamic client.
            utils.create_from_yaml(self.api_client, self.yaml_file(ns, "1"), namespace=ns)
            resource = DynamicClient(self.api_client).resources.get(api_version="v1", kind="ConfigMap")
            body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "from-yaml"}, "data": {"key": "2"}}
            resource.server_side_apply(body=body, namespace=ns, field_manager="python-client")
            self.assertEqual(self.core.read_namespaced_config_map("from-yaml", ns).data, {"key": "2"})
        self.assertEqual(self.apps.read_namespaced_deployment("yaml-web", ns).spec.replicas, 2)

    def dynamic(self):
        return DynamicClient(self.api_client)

    def test_dynamic_client_discovery(self):
        ns = self.namespace()
        dyn = self.dynamic()
        configmaps = dyn.resources.get(api_version="v1", kind="ConfigMap")
        self.assertTrue(configmaps.namespaced)
        deployments = dyn.resources.get(api_version="apps/v1", kind="Deployment")
        self.assertEqual(deployments.name, "deployments")
        self.assertIn("status", deployments.subresources)
        self.assertIn("scale", deployments.subresources)
        clusters = dyn.resources.get(api_version="federation/v1beta1", kind="Cluster")
        self.assertFalse(clusters.namespaced)
        self.assertEqual(dyn.resources.get(api_version="v1", short_names=["cm"]).kind, "ConfigMap")
        leases = dyn.resources.get(group="coordination.k8s.io", kind="Lease")
        self.assertEqual(leases.group_version, "coordination.k8s.io/v1")

        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "dyn"}, "data": {"a": "1"}}
        configmaps.create(body=body, namespace=ns)
        self.assertEqual(configmaps.get(name="dyn", namespace=ns).data.a, "1")
        self.assertEqual([i.metadata.name for i in configmaps.get(namespace=ns).items], ["dyn"])
        patched = configmaps.patch(
            name="dyn", namespace=ns, body={"data": {"b": "2"}}, content_type=MERGE
        )
        self.assertEqual(patched.data.b, "2")
        configmaps.delete(name="dyn", namespace=ns)
        self.assertEqual(configmaps.get(namespace=ns).items, [])

        member = {
            "apiVersion": "federation/v1beta1",
            "kind": "Cluster",
            "metadata": {"name": "py-member-" + uuid.uuid4().hex[:5]},
            "spec": {"serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "https://m:6443"}]},
        }
        created = clusters.create(body=member)
        self.assertEqual(created.kind, "Cluster")
        self.assertIn(member["metadata"]["name"], [c.metadata.name for c in clusters.get().items])
        clusters.delete(name=member["metadata"]["name"])

    def test_dynamic_server_side_apply(self):
        ns = self.namespace()
        configmaps = self.dynamic().resources.get(api_version="v1", kind="ConfigMap")
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"a": "1"}}
        created = configmaps.server_side_apply(body=body, namespace=ns, field_manager="py", force_conflicts=True)
        self.assertEqual(created.data.a, "1")
        body["data"] = {"b": "2"}
        updated = configmaps.server_side_apply(body=body, namespace=ns, field_manager="py", force_conflicts=True)
        self.assertEqual(dict(updated.data), {"b": "2"}, "a field no longer applied is removed")

    # --------------------------------------------------------- leader election

    def test_leader_election_with_lease_lock(self):
        ns = self.namespace()
        started = {"a": threading.Event(), "b": threading.Event()}
        release_a = threading.Event()

        def candidate(identity):
            def lead():
                started[identity].set()
                if identity == "a":
                    release_a.wait(DEADLINE)
                    raise RuntimeError("a steps down")  # stops a's renew loop
                threading.Event().wait()  # b leads until the process ends

            config = electionconfig.Config(
                LeaseLock("leader", ns, identity),
                # Renewals every second with 5 s of slack: a loaded CI machine must not make `a` lose its
                # lease by a slow renewal (the test is about the lock's semantics, not about latency).
                lease_duration=6,
                renew_deadline=5,
                retry_period=1,  # the client's minimum
                onstarted_leading=lead,
                onstopped_leading=lambda: None,
            )
            thread = threading.Thread(target=leaderelection.LeaderElection(config).run, daemon=True)
            thread.start()

        candidate("a")
        wait_for("a to lead", started["a"].is_set)
        lease = self.coordination.read_namespaced_lease("leader", ns)
        self.assertEqual(lease.spec.holder_identity, "a")
        self.assertIsNotNone(lease.spec.renew_time)
        candidate("b")
        wait_for("a to renew while b waits", lambda: self.coordination.read_namespaced_lease("leader", ns)
                 .metadata.resource_version != lease.metadata.resource_version)
        self.assertFalse(started["b"].is_set(), "b must not lead while a renews")
        release_a.set()
        wait_for("b to take over after a's lease expires", started["b"].is_set)
        self.assertEqual(self.coordination.read_namespaced_lease("leader", ns).spec.holder_identity, "b")


for _name, _reason in EXPECTED_TO_FAIL_UNTIL_IMPLEMENTED.items():
    _method = getattr(ClientSuite, _name)  # an AttributeError here means the list names a missing test
    if RUN_EXPECTED == "show":
        pass
    elif RUN_EXPECTED:
        setattr(ClientSuite, _name, unittest.expectedFailure(_method))
    else:
        setattr(ClientSuite, _name, unittest.skip("EXPECTED TO FAIL UNTIL IMPLEMENTED: " + _reason)(_method))


def main():
    if not URL:
        print("FAIL: set FCP_URL to the apiserver's URL, e.g. FCP_URL=http://127.0.0.1:8080", file=sys.stderr)
        return 2
    started = time.monotonic()
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(ClientSuite)
    if len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
        suite = unittest.TestSuite(ClientSuite(name) for name in sys.argv[1:])
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    print("kubernetes client {} against {} in {:.1f}s".format(kubernetes.__version__, URL, time.monotonic() - started))
    if result.skipped:
        print("Skipped (EXPECTED_TO_FAIL_UNTIL_IMPLEMENTED):")
        for test, reason in result.skipped:
            print("  {}: {}".format(test._testMethodName, reason))
    if RUN_EXPECTED and result.unexpectedSuccesses:
        print("Now passing, remove from EXPECTED_TO_FAIL_UNTIL_IMPLEMENTED:")
        for test in result.unexpectedSuccesses:
            print("  " + test._testMethodName)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
