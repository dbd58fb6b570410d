#!/usr/bin/env bash
# The common kubectl verbs against a federation apiserver, as a user types them.
# Usage: verbs.sh KUBECTL SERVER_URL
# Every step checks what kubectl printed; the first failing step ends the script with its output.
set -euo pipefail

KUBECTL=$1
SERVER=$2
CACHE=$(mktemp -d)
WORK=$(mktemp -d)
trap 'rm -rf "$CACHE" "$WORK"' EXIT
NS=verbs-$RANDOM
k() { "$KUBECTL" --server="$SERVER" --cache-dir="$CACHE" "$@"; }
step() { echo "--- $*"; }
fail() { echo "FAILED: $*" >&2; exit 1; }
expect() { # expect PATTERN TEXT
  grep -Eq -- "$1" <<<"$2" || fail "expected /$1/ in:"$'\n'"$2"
}

step "version and discovery"
out=$(k version -o json 2>/dev/null || true); expect '"gitVersion": "v1\.[0-9]+\.[0-9]+-fcp' "$out"
out=$(k api-resources); expect '^deployments +deploy +apps/v1 +true +Deployment' "$out"
expect '^clusters +federation/v1beta1 +false +Cluster' "$out"
out=$(k api-versions); expect '^federation/v1beta1$' "$out"

step "namespaces"
out=$(k create namespace "$NS"); expect "namespace/$NS created" "$out"
out=$(k get ns "$NS" -o jsonpath='{.status.phase}'); [ "$out" = Active ] || fail "phase $out"

step "create generators"
out=$(k -n "$NS" create configmap app-config --from-literal=mode=blue --from-literal=size=3); expect 'configmap/app-config created' "$out"
out=$(k -n "$NS" create secret generic app-secret --from-literal=token=s3cr3t); expect 'secret/app-secret created' "$out"
out=$(k -n "$NS" create deployment web --image=nginx:1.27 --replicas=2); expect 'deployment.apps/web created' "$out"
out=$(k -n "$NS" create service clusterip web --tcp=80:8080); expect 'service/web created' "$out"
out=$(k -n "$NS" get secret app-secret -o jsonpath='{.data.token}' | base64 -d); [ "$out" = s3cr3t ] || fail "secret data $out"

step "apply (client-side), twice"
cat > "$WORK/cm.yaml" <<YAML
apiVersion: v1
kind: ConfigMap
metadata:
  name: applied
  namespace: $NS
  labels: {tier: web}
data:
  a: "1"
  b: "2"
YAML
out=$(k apply -f "$WORK/cm.yaml"); expect 'configmap/applied created' "$out"
sed -i 's/a: "1"/a: "10"/; /b: "2"/d' "$WORK/cm.yaml"
out=$(k apply -f "$WORK/cm.yaml"); expect 'configmap/applied configured' "$out"
out=$(k -n "$NS" get cm applied -o jsonpath='{.data}'); expect '"a":"10"' "$out"
grep -q '"b"' <<<"$out" && fail "key b should have been removed by apply: $out"

step "apply --server-side, conflict, force"
cat > "$WORK/ssa.yaml" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: {name: ssa, namespace: $NS}
spec:
  replicas: 2
  selector: {matchLabels: {app: ssa}}
  template:
    metadata: {labels: {app: ssa}}
    spec: {containers: [{name: c, image: nginx}]}
YAML
out=$(k apply --server-side -f "$WORK/ssa.yaml"); expect 'deployment.apps/ssa serverside-applied' "$out"
sed -i 's/replicas: 2/replicas: 5/' "$WORK/ssa.yaml"
out=$(k apply --server-side --field-manager=other -f "$WORK/ssa.yaml" 2>&1 || true); expect 'conflict' "$out"
out=$(k apply --server-side --field-manager=other --force-conflicts -f "$WORK/ssa.yaml"); expect 'serverside-applied' "$out"
out=$(k -n "$NS" get deploy ssa -o jsonpath='{.spec.replicas}'); [ "$out" = 5 ] || fail "replicas $out"

step "patch: merge, json, strategic"
k -n "$NS" patch cm app-config --type=merge -p '{"data":{"mode":"green"}}' >/dev/null
k -n "$NS" patch cm app-config --type=json -p '[{"op":"add","path":"/data/extra","value":"x"}]' >/dev/null
k -n "$NS" patch deploy web -p '{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.28"}]}}}}' >/dev/null
out=$(k -n "$NS" get cm app-config -o jsonpath='{.data.mode}/{.data.extra}'); [ "$out" = green/x ] || fail "patched data $out"
out=$(k -n "$NS" get deploy web -o jsonpath='{.spec.template.spec.containers[*].image}'); [ "$out" = nginx:1.28 ] || fail "strategic merge: $out"

step "label, annotate, selectors, output formats"
k -n "$NS" label cm app-config team=blue >/dev/null
k -n "$NS" annotate cm app-config note=hello >/dev/null
out=$(k -n "$NS" get cm -l team=blue -o name); [ "$out" = configmap/app-config ] || fail "label selector: $out"
out=$(k -n "$NS" get cm -l 'team notin (red)' -o name); expect 'configmap/app-config' "$out"
out=$(k -n "$NS" get cm --field-selector metadata.name=applied -o name); [ "$out" = configmap/applied ] || fail "field selector: $out"
out=$(k -n "$NS" get cm app-config -o yaml); expect 'note: hello' "$out"
out=$(k -n "$NS" get deploy -o wide); expect '^NAME +READY +UP-TO-DATE +AVAILABLE +AGE +CONTAINERS +IMAGES +SELECTOR' "$out"
out=$(k -n "$NS" get cm); expect '^NAME +DATA +AGE' "$out"

step "describe, scale, explain, diff"
out=$(k -n "$NS" describe deployment web); expect 'Replicas: +2 desired' "$out"
out=$(k -n "$NS" scale deployment web --replicas=4); expect 'deployment.apps/web scaled' "$out"
out=$(k -n "$NS" get deploy web -o jsonpath='{.spec.replicas}'); [ "$out" = 4 ] || fail "scale: $out"
out=$(k explain deployment.spec.replicas); expect 'replicas' "$out"
sed -i 's/a: "10"/a: "11"/' "$WORK/cm.yaml"
out=$(k diff -f "$WORK/cm.yaml" || true); expect '^\+  a: "11"' "$out"

step "watch"
k -n "$NS" get cm -w -o name > "$WORK/watch.out" 2>&1 &
watcher=$!
# The initial list is printed before the watch starts: wait for it, so that "watched" can only arrive as a
# watch event.
for _ in $(seq 100); do grep -q 'configmap/app-config' "$WORK/watch.out" && break; sleep 0.1; done
grep -q 'configmap/watched' "$WORK/watch.out" && fail "watched existed before the watch"
k -n "$NS" create configmap watched --from-literal=x=y >/dev/null
for _ in $(seq 50); do grep -q 'configmap/watched' "$WORK/watch.out" && break; sleep 0.2; done
kill "$watcher" 2>/dev/null || true
grep -q 'configmap/watched' "$WORK/watch.out" || fail "watch: $(cat "$WORK/watch.out")"

step "wait, delete"
k -n "$NS" delete cm watched --wait=true >/dev/null
out=$(k -n "$NS" get cm watched 2>&1 || true); expect 'NotFound|not found' "$out"
# `wait --for=delete` waits while a finalizer holds the object, and returns once it is gone.
k -n "$NS" patch cm applied --type=merge -p '{"metadata":{"finalizers":["example.com/hold"]}}' >/dev/null
k -n "$NS" delete cm applied --wait=false >/dev/null
k -n "$NS" wait --for=delete cm/applied --timeout=2s >/dev/null 2>&1 && fail "wait --for=delete returned while a finalizer held the object"
k -n "$NS" patch cm applied --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null
k -n "$NS" wait --for=delete cm/applied --timeout=20s >/dev/null || fail "wait --for=delete after the finalizer went"
out=$(k -n "$NS" get cm applied 2>&1 || true); expect 'NotFound|not found' "$out"
k -n "$NS" patch cm app-config --type=merge -p '{"metadata":{"labels":{"ready":"yes"}}}' >/dev/null
out=$(k -n "$NS" wait --for=jsonpath='{.metadata.labels.ready}'=yes cm/app-config --timeout=20s); expect 'condition met' "$out"

step "namespace delete removes its contents"
out=$(k delete namespace "$NS" --wait=true --timeout=60s); expect "namespace \"$NS\" deleted" "$out"
out=$(k get ns "$NS" 2>&1 || true); expect 'NotFound|not found' "$out"
out=$(k delete namespace default 2>&1 || true); expect 'forbidden' "$out"
echo "ALL VERBS PASSED ($("$KUBECTL" version --client -o json | grep -m1 gitVersion | tr -d ' ",'))"
