#!/usr/bin/env python3
"""Builds the fcp container image as a docker-archive, without a Docker engine.

The image is what docker/Dockerfile describes, FROM scratch with one layer:

    /fcp                             the static fcp binary (0755)
    /federation-apiserver -> /fcp    busybox-style server symlinks
    /federation-controller-manager -> /fcp
    /tmp                             1777
    /var/lib/fcp                     0700, owned by nobody: the working directory, so that the embedded
                                     store's default --data-dir (fcp-data, relative) is writable
    /etc/passwd, /etc/group          root and nobody (65534)

and a config with Entrypoint ["/fcp"], User 65534:65534 and OCI labels naming the version and commit.
The output is what `docker save` writes (manifest.json, the config blob, <id>/layer.tar, repositories), so
`docker load -i` accepts it, as do `skopeo` and `podman load`. The build is reproducible: every timestamp is 0,
every owner is 0:0 (but /var/lib/fcp's), entries are sorted and the JSON is canonical, so the same binary gives a byte-identical tar.

Python 3 standard library only. Usage:

    build-image.py --binary target/x86_64-unknown-linux-gnu/release/fcp \\
        --output _output/release-images/amd64/fcp-amd64.tar --version 0.1.0 --commit abc123 \\
        [--repository fcp] [--rootfs _output/docker-context/rootfs.tar]

--rootfs also writes the bare layer, which `docker build -f docker/Dockerfile <dir>` ADDs.
"""

import argparse
import hashlib
import io
import json
import os
import re
import struct
import sys
import tarfile

EPOCH = "1970-01-01T00:00:00Z"
NOBODY = 65534
WORKDIR = "/var/lib/fcp"
PASSWD = b"root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
GROUP = b"root:x:0:\nnobody:x:65534:\n"
SERVER_LINKS = ("federation-apiserver", "federation-controller-manager")
SOURCE = "https://github.com/fcp-project/fcp"

ELF_MACHINES = {"amd64": 62, "arm64": 183}
PT_INTERP = 3


def fail(message):
    print(f"build-image.py: error: {message}", file=sys.stderr)
    sys.exit(1)


def check_static_elf(data, arch):
    """Refuses anything but a statically linked 64-bit little-endian ELF for `arch`: a scratch image has no
    dynamic loader, so a dynamic binary would fail only when the container starts."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        fail("the binary is not a 64-bit little-endian ELF file")
    machine = struct.unpack_from("<H", data, 0x12)[0]
    if machine != ELF_MACHINES[arch]:
        fail(f"the binary is for ELF machine {machine}, not {arch} ({ELF_MACHINES[arch]})")
    phoff = struct.unpack_from("<Q", data, 0x20)[0]
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    for index in range(phnum):
        (p_type,) = struct.unpack_from("<I", data, phoff + index * phentsize)
        if p_type == PT_INTERP:
            fail("the binary is dynamically linked (it has a program interpreter); build it with "
                 "RUSTFLAGS='-C target-feature=+crt-static' and an explicit --target")


def tar_info(name, kind, mode, size=0, linkname="", owner=0):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.size = size
    info.linkname = linkname
    info.mtime = 0
    info.uid = info.gid = owner
    info.uname = info.gname = ""
    return info


def build_tar(entries):
    """entries: (TarInfo, bytes or None), written in name order."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for info, data in sorted(entries, key=lambda entry: entry[0].name):
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


def regular(name, data, mode=0o644):
    return tar_info(name, tarfile.REGTYPE, mode, size=len(data)), data


def directory(name, mode=0o755, owner=0):
    return tar_info(name, tarfile.DIRTYPE, mode, owner=owner), None


def symlink(name, target):
    return tar_info(name, tarfile.SYMTYPE, 0o777, linkname=target), None


def canonical_json(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def docker_tag(version):
    """A Docker tag allows [A-Za-z0-9_.-], up to 128 characters; like Kubernetes releases, '+' becomes '_'."""
    tag = re.sub(r"[^A-Za-z0-9_.-]", "_", version.replace("+", "_"))[:128]
    if not tag or tag[0] in ".-":
        fail(f"cannot make a Docker tag from version {version!r}")
    return tag


def write_atomically(path, data):
    directory_name = os.path.dirname(path) or "."
    os.makedirs(directory_name, exist_ok=True)
    temporary = f"{path}.tmp.{os.getpid()}"
    with open(temporary, "wb") as out:
        out.write(data)
    os.replace(temporary, path)


def main():
    parser = argparse.ArgumentParser(description="Build the fcp image as a docker-archive (no engine needed).")
    parser.add_argument("--binary", required=True, help="the static fcp executable")
    parser.add_argument("--output", required=True, help="the docker-archive to write")
    parser.add_argument("--version", required=True, help="fcp version: image tag and label")
    parser.add_argument("--commit", default="", help="git commit: label")
    parser.add_argument("--repository", default="fcp", help="image name, e.g. fcp or REGISTRY/fcp")
    parser.add_argument("--arch", default="amd64", choices=sorted(ELF_MACHINES))
    parser.add_argument("--rootfs", help="also write the bare layer tar here (for docker/Dockerfile)")
    args = parser.parse_args()

    try:
        with open(args.binary, "rb") as binary:
            fcp = binary.read()
    except OSError as err:
        fail(f"{args.binary}: {err.strerror}")
    check_static_elf(fcp, args.arch)

    layer = build_tar([
        directory("etc"),
        regular("etc/group", GROUP),
        regular("etc/passwd", PASSWD),
        regular("fcp", fcp, mode=0o755),
        *(symlink(name, "/fcp") for name in SERVER_LINKS),
        directory("tmp", mode=0o1777),
        directory("var"),
        directory("var/lib"),
        directory(WORKDIR.lstrip("/"), mode=0o700, owner=NOBODY),
    ])
    diff_id = sha256(layer)

    tag = docker_tag(args.version)
    repo_tags = [f"{args.repository}:{tag}", f"{args.repository}:latest"]
    labels = {
        "org.opencontainers.image.title": "fcp",
        "org.opencontainers.image.description":
            "Kubernetes Cluster Federation (v1) in one static binary: federation-apiserver, "
            "federation-controller-manager",
        "org.opencontainers.image.version": args.version,
        "org.opencontainers.image.revision": args.commit or "unknown",
        "org.opencontainers.image.source": SOURCE,
        "org.opencontainers.image.licenses": "Apache-2.0",
    }
    config = canonical_json({
        "architecture": args.arch,
        "os": "linux",
        "created": EPOCH,
        "config": {
            "Entrypoint": ["/fcp"],
            "Env": ["PATH=/"],
            "User": f"{NOBODY}:{NOBODY}",
            "WorkingDir": WORKDIR,
            "Labels": labels,
        },
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff_id}"]},
        "history": [{
            "created": EPOCH,
            "created_by": "docker/build-image.py: /fcp, server symlinks, /tmp, /var/lib/fcp, /etc/passwd, /etc/group",
        }],
    })
    image_id = sha256(config)
    config_name = f"{image_id}.json"

    manifest = canonical_json([{"Config": config_name, "RepoTags": repo_tags, "Layers": [f"{diff_id}/layer.tar"]}])
    repositories = canonical_json({args.repository: {tag: diff_id, "latest": diff_id}})
    legacy_layer_json = canonical_json({"id": diff_id, "created": EPOCH, "os": "linux", "architecture": args.arch})
    archive = build_tar([
        directory(diff_id),
        regular(f"{diff_id}/VERSION", b"1.0"),
        regular(f"{diff_id}/json", legacy_layer_json),
        regular(f"{diff_id}/layer.tar", layer),
        regular(config_name, config),
        regular("manifest.json", manifest),
        regular("repositories", repositories),
    ])

    write_atomically(args.output, archive)
    if args.rootfs:
        write_atomically(args.rootfs, layer)
    print(f"{args.output}: {len(archive) / 1e6:.1f} MB, image sha256:{image_id}, tags {' '.join(repo_tags)}")


if __name__ == "__main__":
    main()
