#!/usr/bin/env python3
"""Generates `schema.rs`: the protobuf schema of the built-in Kubernetes kinds that the decoder walks.

Sources (no network): the prost code of the `k8s-pb` crate (field numbers, wire types, nested messages) and the
serde code of `k8s-openapi` (JSON field names, required fields), both from the cargo registry. Kubernetes names
its proto fields after the Go JSON names, which prost turns into snake_case; the JSON name is taken back from
k8s-openapi by matching names without case or underscores (`cluster_i_ps` = `clusterIPs`).

Run: `cargo fetch` with k8s-pb 0.9 in some Cargo.toml (a scratch crate is enough), then
    python3 crates/apiserver/src/protobuf/gen_schema.py > crates/apiserver/src/protobuf/schema.rs
"""
import glob, os, re, sys

REG = sorted(glob.glob(os.path.expanduser("~/.cargo/registry/src/*/")))
def crate_dir(name):
    found = sorted(d for r in REG for d in glob.glob(r + name + "-*") if re.search(name + r"-[0-9.]+$", d))
    if not found:
        sys.exit(f"{name} not found in the cargo registry")
    return found[-1]

PB = crate_dir("k8s-pb") + "/src/"
OA = crate_dir("k8s-openapi") + "/src/v1_37/"

# The packages whose kinds are decodable (a kind = a message with `metadata` as field 1), plus extra roots.
PACKAGES = [
    "api/core/v1", "api/apps/v1", "api/batch/v1", "api/autoscaling/v1", "api/autoscaling/v2",
    "api/networking/v1", "api/coordination/v1", "api/events/v1", "api/rbac/v1", "api/policy/v1",
    "api/scheduling/v1", "api/authentication/v1", "api/authorization/v1", "api/discovery/v1",
    "api/storage/v1", "api/certificates/v1",
]
EXTRA_ROOTS = ["apimachinery/pkg/apis/meta/v1.DeleteOptions", "apimachinery/pkg/apis/meta/v1.Status"]
# Special messages: encoded in JSON as a scalar.
SPECIAL = {
    "apimachinery/pkg/apis/meta/v1.Time": "Time",
    "apimachinery/pkg/apis/meta/v1.MicroTime": "MicroTime",
    "apimachinery/pkg/apis/meta/v1.Duration": "Duration",
    "apimachinery/pkg/apis/meta/v1.FieldsV1": "RawJson",
    "apimachinery/pkg/runtime.RawExtension": "RawJson",
    "apimachinery/pkg/util/intstr.IntOrString": "IntOrString",
    "apimachinery/pkg/api/resource.Quantity": "Quantity",
    "apimachinery/pkg/apis/meta/v1.Verbs": "StringList",
}

def proto_package(mod):
    return "k8s.io." + mod.replace("/", ".").replace("apiextensions_apiserver", "apiextensions-apiserver")

# --- k8s-pb -------------------------------------------------------------------------------------------------
STRUCT = re.compile(r"pub struct (\w+) \{(.*?)\n\}", re.S)
FIELD = re.compile(r"#\[prost\(([^\]]*)\)\]\s*pub (?:r#)?(\w+):\s*(.*?),\s*(?=(?:///|#\[|$))", re.S)

def resolve(mod, rust_type):
    t = re.sub(r"\s+", "", rust_type).replace(",>", ">")
    for wrapper in ("::core::option::Option<", "::prost::alloc::vec::Vec<", "::prost::alloc::boxed::Box<"):
        if t.startswith(wrapper):
            t = t[len(wrapper):-1]
    if t.startswith("::prost::alloc::collections::BTreeMap<"):
        t = t[len("::prost::alloc::collections::BTreeMap<"):-1].split(",", 1)[1]
    for wrapper in ("::prost::alloc::vec::Vec<", "::prost::alloc::boxed::Box<"):
        if t.startswith(wrapper):
            t = t[len(wrapper):-1]
    parts = t.split("::")
    base = mod.split("/")
    while parts[0] == "super":
        parts.pop(0)
        base.pop()
    return "/".join(base + parts[:-1]) + "." + parts[-1]

messages = {}  # "mod.Name" -> list of (tag, snake, kind, repeated, map_value, type_ref)
for path in glob.glob(PB + "**/mod.rs", recursive=True):
    mod = os.path.dirname(path)[len(PB):]
    src = open(path).read()
    for name, body in STRUCT.findall(src):
        fields = []
        for attr, snake, rust_type in FIELD.findall(body + "\n"):
            tag = int(re.search(r'tag = "(\d+)"', attr).group(1))
            m = re.match(r'btree_map = "string, (\w+)"', attr)
            if m:
                value = m.group(1)
                ref = resolve(mod, rust_type) if value == "message" else None
                fields.append((tag, snake, "map", False, value, ref))
                continue
            kind = attr.split(",")[0].strip()
            if kind.startswith("bytes"):
                kind = "bytes"
            repeated = "repeated" in attr
            ref = resolve(mod, rust_type) if kind == "message" else None
            fields.append((tag, snake, kind, repeated, None, ref))
        messages[mod + "." + name] = sorted(fields)

# Go named slice types (`type ExtraValue []string`) are a message with one repeated `items` field in proto.
for key in messages:
    if key.endswith(".ExtraValue"):
        SPECIAL[key] = "StringList"

# --- k8s-openapi: JSON names and required fields ------------------------------------------------------------
def openapi_struct(key):
    """(struct name, {snake: json}, {required snake}) of the k8s-openapi struct of a message, if there is one."""
    mod, name = key.rsplit(".", 1)
    directory = OA + mod
    if not os.path.isdir(directory):
        return None
    for f in sorted(glob.glob(directory + "/*.rs")):
        src = open(f).read()
        m = re.search(r"pub struct (\w+) \{(.*?)\n\}", src, re.S)
        if not m or m.group(1).lower() != name.lower():
            continue
        json_names = dict((k, j) for j, k in re.findall(r'"([^"]+)" => Field::Key_(\w+),', src))
        required = {f for f, t in re.findall(r"^\s*pub (\w+): (.*),$", m.group(2), re.M) if not t.startswith("Option<")}
        return m.group(1), json_names, required
    return None

def norm(s):
    return s.replace("_", "").lower()

def camel(snake):
    head, *rest = snake.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)

OPENAPI = {k: openapi_struct(k) for k in messages}
# Go structs embedded with `json:",inline"` are a nested message in proto (Volume.volumeSource,
# IngressRule.ingressRuleValue, Probe.handler, ...): a message field that the parent's JSON does not name, all
# of whose own fields the parent's JSON does name.
INLINE = set()
for key, fields in messages.items():
    oa = OPENAPI[key]
    if not oa:
        continue
    names = {norm(s) for s in oa[1]}
    for tag, snake, kind, repeated, value, ref in fields:
        if kind == "message" and not repeated and norm(snake) not in names and ref not in SPECIAL:
            child = messages[ref]
            if child and all(norm(c[1]) in names for c in child):
                INLINE.add((key, tag))
                if not OPENAPI.get(ref):
                    OPENAPI[ref] = (ref.rsplit(".", 1)[1], oa[1], oa[2])

# --- the closure of the roots -------------------------------------------------------------------------------
roots = [k for k, f in messages.items()
         if k.rsplit(".", 1)[0] in PACKAGES and f and f[0][:2] == (1, "metadata")
         and not (k.endswith("List") and f[0][5].endswith(".ListMeta"))] + EXTRA_ROOTS
order, seen = [], set()
def visit(key):
    if key in seen:
        return
    if key not in messages:
        sys.exit(f"unknown message {key}")
    seen.add(key)
    order.append(key)
    if key in SPECIAL:
        return
    for field in messages[key]:
        if field[5]:
            visit(field[5])
for r in sorted(roots):
    visit(r)
order.sort()
index = {k: i for i, k in enumerate(order)}

KIND = {"string": "Str", "bytes": "Bytes", "bool": "Bool", "int32": "Int32", "int64": "Int64", "double": "Double"}
out = []
w = out.append
w("// @generated by gen_schema.py from the k8s-pb 0.9 and k8s-openapi 0.29 sources. Do not edit.")
w("")
w("use super::{Field, Kind, Message, Special};")
w("")
w("/// Every message reachable from the decodable kinds (`top_level`), sorted by module path. A field whose `json` is empty is a")
w("/// Go struct embedded inline: its fields belong to the enclosing JSON object.")
w("pub(super) static MESSAGES: &[Message] = &[")
unmatched = []
for key in order:
    mod, name = key.rsplit(".", 1)
    special = SPECIAL.get(key, "None")
    oa = OPENAPI.get(key)
    if oa and oa[0].lower() == name.lower():
        name = oa[0]
    top = str(key in roots).lower()
    w(f'    Message {{ name: "{proto_package(mod)}.{name}", top_level: {top}, special: Special::{special}, fields: &[')
    if key not in SPECIAL:
        by_norm = {norm(s): (j, s) for s, j in (oa[1].items() if oa else [])}
        for tag, snake, kind, repeated, value, ref in messages[key]:
            hit = by_norm.get(norm(snake))
            json_name = hit[0] if hit else camel(snake)
            inline = (key, tag) in INLINE
            if inline:
                json_name = ""
            elif not hit:
                unmatched.append(f"{key}.{snake} -> {json_name}")
            required = bool(hit) and hit[1] in oa[2]
            if kind == "map":
                k = {"string": "MapStr", "bytes": "MapBytes"}.get(value) or f"MapMessage({index[ref]})"
            elif kind == "message":
                k = f"Message({index[ref]})"
            else:
                k = KIND[kind]
            w(f'        Field {{ tag: {tag}, json: "{json_name}", kind: Kind::{k}, repeated: {str(repeated).lower()}, required: {str(required).lower()} }},')
    w("    ] },")
w("];")
w("")
sys.stdout.write("\n".join(out) + "\n")
for u in unmatched:
    print("no k8s-openapi name (camelCase used):", u, file=sys.stderr)
print(f"{len(order)} messages, {sum(len(messages[k]) for k in order if k not in SPECIAL)} fields", file=sys.stderr)
