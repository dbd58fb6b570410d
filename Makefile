# fcp: Kubernetes Cluster Federation (v1) in Rust. `make help` lists the targets.

CARGO       ?= cargo
PYTHON      ?= python3
OUT         := _output
ARCH        := amd64
RUST_TARGET := x86_64-unknown-linux-gnu

# The static release binary: glibc with crt-static, rustls only (no OpenSSL), symbols stripped. --target is
# explicit so that build scripts and proc-macros stay dynamic host binaries.
STATIC_ENV  := RUSTFLAGS='-C target-feature=+crt-static' CARGO_PROFILE_RELEASE_STRIP=symbols
STATIC_BIN  := target/$(RUST_TARGET)/release/fcp

IMAGE_NAME  ?= fcp
IMAGE_DIR   := $(OUT)/release-images/$(ARCH)
IMAGE_TAR   := $(IMAGE_DIR)/fcp-$(ARCH).tar
DOCKER_CTX  := $(OUT)/docker-context
RELEASE_TARS  := $(OUT)/release-tars
RELEASE_STAGE := $(OUT)/release-stage

# Evaluated in recipes only: the fcp version from Cargo, the commit from git ("unknown" outside a checkout).
FCP_VERSION = $$($(CARGO) pkgid -p fcp | sed 's/^.*[^0-9A-Za-z.+-]//')
FCP_COMMIT  = $$(c=$$(git rev-parse HEAD 2>/dev/null) || c=unknown; \
                 if [ "$$c" != unknown ] && [ -n "$$(git status --porcelain --untracked-files=no)" ]; then c="$$c-dirty"; fi; \
                 echo $$c)
# Reproducible tarballs with GNU tar.
REPRO_TAR   := tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 --format=gnu

.PHONY: all help build test run run-apiserver image image-docker test-image quick-release bench e2e fmt lint clean

all: build

help:
	@echo "build          cargo build of the whole workspace"
	@echo "test           unit and integration tests"
	@echo "run            fcp local-up: federation apiserver, controller manager and CLUSTERS=3 simulated members"
	@echo "               (kubeconfig with contexts federation, cluster-1..N in $(OUT)/local-up/kubeconfig)"
	@echo "run-apiserver  the federation apiserver alone: HTTPS on :6443 (kubeconfig in $(OUT)/local), HTTP on :8080"
	@echo "image          static fcp + $(IMAGE_TAR) (docker-archive, no Docker engine needed)"
	@echo "image-docker   the same image through docker/Dockerfile and a Docker engine"
	@echo "test-image     make image, then check the archive (and docker load/run it when an engine answers)"
	@echo "quick-release  $(RELEASE_TARS)/federation-{server,client}-linux-$(ARCH).tar.gz"
	@echo "bench, e2e, fmt, lint, clean"

build:
	$(CARGO) build --workspace

# The e2e tests drive the built binary (target/debug/fcp), so it is built first.
test:
	$(CARGO) build -p fcp
	$(CARGO) test --workspace

# A whole federation in one process: the federation apiserver (embedded store, HTTPS, token), CLUSTERS simulated
# members joined as cluster-1..N, and the controller manager; kubeconfig in $(OUT)/local-up/kubeconfig.
CLUSTERS ?= 3
run:
	$(CARGO) build -p fcp
	target/debug/fcp local-up --clusters $(CLUSTERS) --dir $(OUT)/local-up

# The federation apiserver alone on the embedded store: HTTPS on :6443 (kubeconfig in $(OUT)/local), plain HTTP
# on :8080.
run-apiserver:
	$(CARGO) build -p fcp
	@mkdir -p $(OUT)/local
	@test -s $(OUT)/local/tokens.csv || { umask 077; printf '%s,admin,admin,"system:masters"\n' "$$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" > $(OUT)/local/tokens.csv; }
	@printf 'apiVersion: v1\nkind: Config\nclusters:\n- name: federation\n  cluster:\n    server: https://127.0.0.1:6443\n    certificate-authority: %s\nusers:\n- name: admin\n  user:\n    token: %s\ncontexts:\n- name: federation\n  context: {cluster: federation, user: admin}\ncurrent-context: federation\n' "$(CURDIR)/$(OUT)/local/certs/ca.crt" "$$(cut -d, -f1 $(OUT)/local/tokens.csv)" > $(OUT)/local/kubeconfig
	@chmod 600 $(OUT)/local/kubeconfig
	@echo "federation-apiserver on https://127.0.0.1:6443 (self-signed CA in $(OUT)/local/certs, admin token in"
	@echo "$(OUT)/local/tokens.csv, RBAC on) and, for quick experiments, http://127.0.0.1:8080 without authentication."
	@echo "Embedded store in $(OUT)/local/data. Try:"
	@echo "  export KUBECONFIG=$(OUT)/local/kubeconfig"
	@echo "  kubectl auth whoami"
	@echo "  kubectl create deployment web --image=nginx --replicas=3"
	@echo "  kubectl get deployments -o wide"
	target/debug/fcp federation-apiserver --bind-address 127.0.0.1 --cert-dir $(OUT)/local/certs \
		--token-auth-file $(OUT)/local/tokens.csv --insecure-port 8080 --data-dir $(OUT)/local/data

# ---------------------------------------------------------------------------------------------------------------
# Packaging (DESIGN.md §8)

image:
	@mkdir -p $(IMAGE_DIR) $(DOCKER_CTX)
	$(STATIC_ENV) $(CARGO) build --release -p fcp --target $(RUST_TARGET)
	$(PYTHON) docker/build-image.py --binary $(STATIC_BIN) --output $(IMAGE_TAR) \
		--version "$(FCP_VERSION)" --commit "$(FCP_COMMIT)" --repository $(IMAGE_NAME) --arch $(ARCH) \
		--rootfs $(DOCKER_CTX)/rootfs.tar

# Needs a Docker engine (or `DOCKER=podman`); `make image` does not.
DOCKER ?= docker
image-docker: image
	$(DOCKER) build -f docker/Dockerfile --build-arg VERSION="$(FCP_VERSION)" --build-arg COMMIT="$(FCP_COMMIT)" \
		-t $(IMAGE_NAME):dev $(DOCKER_CTX)

# FCP_REQUIRE_DOCKER=1 makes a missing Docker engine a failure instead of a skip.
test-image: image
	FCP_IMAGE_TAR=$(CURDIR)/$(IMAGE_TAR) $(CARGO) test -p fcp-e2e --test e2e image -- --nocapture

quick-release: image
	rm -rf $(RELEASE_STAGE)
	mkdir -p $(RELEASE_STAGE)/server/federation/server/bin $(RELEASE_TARS)
	cp $(STATIC_BIN) $(RELEASE_STAGE)/server/federation/server/bin/fcp
	cp $(IMAGE_TAR) $(RELEASE_STAGE)/server/federation/fcp-$(ARCH).tar
	$(REPRO_TAR) -C $(RELEASE_STAGE)/server -cf - federation | gzip -n > $(RELEASE_TARS)/federation-server-linux-$(ARCH).tar.gz
	@echo "note: kubefed is not built yet (crate kubefed has no binary): the server tarball has no" \
		"federation/server/bin/kubefed and federation-client-linux-$(ARCH).tar.gz is not written"
	@ls -l $(RELEASE_TARS)

# ---------------------------------------------------------------------------------------------------------------

# Storage and API throughput and latency, and propagation into simulated members, vs raw etcd (needs etcd on
# PATH). FCP_BENCH_OPS=N shortens the storage and API runs, FCP_BENCH_OBJECTS=N the propagation run.
bench:
	$(CARGO) bench -p fcp-storage --bench storage
	$(CARGO) bench -p fcp-apiserver --bench api
	$(CARGO) bench -p fcp-controllers --bench propagation

e2e:
	$(CARGO) test -p fcp-e2e

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

clean:
	$(CARGO) clean
	rm -rf $(OUT)
