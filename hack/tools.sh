#!/usr/bin/env bash
# Builds the pinned toolchain from Go modules (nothing here can be downloaded
# as a release binary: the machine is offline but for the Go module proxy).
# Each tool lands in $BULWARK_TOOLS_DIR/<tool>-<version>/ and is linked into
# $BULWARK_TOOLS_DIR/bin; a tool already built at its pinned version is reused.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TOOLS_DIR=${BULWARK_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/bulwark/tools}
BIN="$TOOLS_DIR/bin"

PULUMI_VERSION=v3.274.1
K8S_PROVIDER_VERSION=4.32.0
K8S_PROVIDER_MODULE_VERSION=v4.0.0-20260115033456-f47bc2d6f199
K8S_VERSION=v1.34.2
KWOK_VERSION=v0.8.0
KUBE_SCORE_VERSION=v1.20.0
CERT_MANAGER_VERSION=v1.21.2
OPENBAO_VERSION=v2.5.5
VAULT_PROVIDER_VERSION=6.7.4
ESO_VERSION=v0.16.2

mkdir -p "$BIN"
# One build at a time per tool folder: a `make up` while `make tools` runs
# waits instead of racing it to the same files.
if command -v flock >/dev/null; then
  exec 9>"$TOOLS_DIR/.lock"
  flock 9
fi
export GOFLAGS=-mod=mod GOTOOLCHAIN=${GOTOOLCHAIN:-local}

log() { printf '==> [tools %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# link NAME TARGET: point bin/NAME at TARGET.
link() { ln -sfn "$2" "$BIN/$1"; }

moddir() { go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'; }

build_pulumi() {
  local out="$TOOLS_DIR/pulumi-$PULUMI_VERSION"
  if [[ -x "$out/pulumi" ]]; then link pulumi "$out/pulumi"; return; fi
  if command -v pulumi >/dev/null && [[ "$(command -v pulumi)" != "$BIN/pulumi" ]] &&
     [[ "$(pulumi version 2>/dev/null)" == "$PULUMI_VERSION" ]]; then
    log "using pulumi $PULUMI_VERSION from PATH"; link pulumi "$(command -v pulumi)"; return
  fi
  log "building pulumi CLI $PULUMI_VERSION (about 5 minutes cold)"
  local dir tmp; dir=$(moddir "github.com/pulumi/pulumi/pkg/v3@$PULUMI_VERSION")
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' RETURN
  # pkg's go.mod replaces the sdk with ../sdk, which is not in the module zip.
  grep -v '^replace github.com/pulumi/pulumi/sdk/v3 => ../sdk' "$dir/go.mod" > "$tmp/go.mod"
  cp "$dir/go.sum" "$tmp/go.sum"
  (cd "$dir" && go build -modfile="$tmp/go.mod" -o "$tmp/pulumi" \
     -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" ./cmd/pulumi)
  mkdir -p "$out" && mv "$tmp/pulumi" "$out/pulumi" && link pulumi "$out/pulumi"
}

build_k8s_provider() {
  local out="$TOOLS_DIR/pulumi-resource-kubernetes-v$K8S_PROVIDER_VERSION"
  if [[ -x "$out/pulumi-resource-kubernetes" ]]; then link pulumi-resource-kubernetes "$out/pulumi-resource-kubernetes"; return; fi
  log "building pulumi-resource-kubernetes $K8S_PROVIDER_VERSION (about 8 minutes cold)"
  local dir tmp; dir=$(moddir "github.com/pulumi/pulumi-kubernetes/provider/v4@$K8S_PROVIDER_MODULE_VERSION")
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' RETURN
  cp -r "$dir" "$tmp/src" && chmod -R u+w "$tmp/src"
  grep -v '^replace github.com/pulumi/pulumi-kubernetes/sdk/v4 => ../sdk' "$dir/go.mod" > "$tmp/src/go.mod"
  # main embeds compact copies that upstream's generator writes; write them here.
  (cd "$ROOT" && GOFLAGS=-mod=readonly go run ./hack/embedschema "$tmp/src/cmd/pulumi-resource-kubernetes" "$K8S_PROVIDER_VERSION")
  (cd "$tmp/src" && go build -o "$tmp/pulumi-resource-kubernetes" \
     -ldflags "-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$K8S_PROVIDER_VERSION" ./cmd/pulumi-resource-kubernetes)
  mkdir -p "$out" && mv "$tmp/pulumi-resource-kubernetes" "$out/" && link pulumi-resource-kubernetes "$out/pulumi-resource-kubernetes"
}

build_cluster() {
  local out="$TOOLS_DIR/kubernetes-$K8S_VERSION" c missing=0
  for c in etcd kube-apiserver kube-controller-manager kube-scheduler; do [[ -x "$out/$c" ]] || missing=1; done
  if (( missing )); then
    log "building etcd and the Kubernetes $K8S_VERSION control plane (about 6 minutes cold)"
    mkdir -p "$out"
    local minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
    local ld="-X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
    for c in etcd kube-apiserver kube-controller-manager kube-scheduler; do
      [[ -x "$out/$c" ]] && continue
      log "  $c"
      (cd "$ROOT/tools/cluster" && GOFLAGS=-mod=readonly go build -ldflags "$ld" -o "$out/$c.tmp" "./$c") && mv "$out/$c.tmp" "$out/$c"
    done
  fi
  for c in etcd kube-apiserver kube-controller-manager kube-scheduler; do link "$c" "$out/$c"; done
}

build_kwok() {
  local out="$TOOLS_DIR/kwok-$KWOK_VERSION"
  if [[ ! -x "$out/kwok" || ! -d "$out/stages" ]]; then
    log "building kwok $KWOK_VERSION (about 3 minutes cold)"
    mkdir -p "$out/stages"
    GOBIN="$out" go install "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
    local dir; dir=$(moddir "sigs.k8s.io/kwok@$KWOK_VERSION")
    cp "$dir/kustomize/stage/node/fast/node-initialize.yaml" "$dir/kustomize/stage/node/heartbeat/node-heartbeat.yaml" "$out/stages/"
    cp "$dir"/kustomize/stage/pod/fast/*.yaml "$out/stages/"
    chmod u+w "$out/stages"/*
  fi
  link kwok "$out/kwok"; ln -sfn "$out/stages" "$TOOLS_DIR/kwok-stages"
}

# CRDs of the cluster add-ons the platform expects (VerticalPodAutoscaler,
# Istio, cert-manager, CloudNativePG, External Secrets), read from the module
# cache at the versions go.mod (or, below, this script) pins, never copied
# into the repository. The local cluster installs them.
# A source that is a folder contributes every *.yaml in it.
crd_sources=(
  "k8s.io/autoscaler/vertical-pod-autoscaler deploy/vpa-v1-crd-gen.yaml vpa.yaml"
  "istio.io/api kubernetes/customresourcedefinitions.gen.yaml istio.yaml"
  "github.com/cert-manager/cert-manager deploy/crds cert-manager.yaml"
  "github.com/cloudnative-pg/cloudnative-pg config/crd/bases cnpg.yaml"
)
# Add-ons whose Go module go.mod does not require (External Secrets: its API
# package can't build against this module's controller-runtime), pinned here
# as module@version; the controller the local cluster runs is built from the
# same version (build_external_secrets).
pinned_crd_sources=(
  "github.com/external-secrets/external-secrets@$ESO_VERSION deploy/crds/bundle.yaml external-secrets.yaml"
)
install_crds() {
  mkdir -p "$TOOLS_DIR/crds"
  local src module file out dir stamp="" want
  # Skip when the files are from the module versions go.mod (or this script)
  # pins now: this runs before every make up/preview/destroy and must cost nothing.
  for src in "${crd_sources[@]}"; do
    read -r module file out <<<"$src"
    stamp+="$(grep -E "^[[:space:]]*$module v" "$ROOT/go.mod" | awk '{print $1, $2}') $file $out"$'\n'
  done
  for src in "${pinned_crd_sources[@]}"; do
    stamp+="$src"$'\n'
  done
  # The Keycloak operator's CRDs are no Go module: read from the vendored
  # release folder (../shared/vendor), pinned by its name.
  local kc_dir=""
  if kc_dir=$(vendor_dir) && [[ -d "$kc_dir/keycloak-operator-$KEYCLOAK_OPERATOR_VERSION" ]]; then
    kc_dir="$kc_dir/keycloak-operator-$KEYCLOAK_OPERATOR_VERSION"
    stamp+="keycloak-operator-$KEYCLOAK_OPERATOR_VERSION keycloak.yaml"$'\n'
  else
    kc_dir=""
    log "Keycloak operator CRDs: no keycloak-operator-$KEYCLOAK_OPERATOR_VERSION in ../shared/vendor (or BULWARK_VENDOR_DIR): the stack check's Keycloak objects will be skipped"
  fi
  want="$TOOLS_DIR/crds/.versions"
  if [[ -f "$want" && "$(cat "$want")" == "$(printf %s "$stamp")" ]]; then return; fi
  for src in "${crd_sources[@]}"; do
    read -r module file out <<<"$src"
    (cd "$ROOT" && GOFLAGS=-mod=readonly go mod download "$module")
    dir=$(cd "$ROOT" && GOFLAGS=-mod=readonly go list -m -f '{{.Dir}}' "$module")
    if [[ -d "$dir/$file" ]]; then
      local f
      : > "$TOOLS_DIR/crds/$out"
      for f in "$dir/$file"/*.yaml; do printf -- '---\n' >> "$TOOLS_DIR/crds/$out"; cat "$f" >> "$TOOLS_DIR/crds/$out"; done
    else
      cp "$dir/$file" "$TOOLS_DIR/crds/$out"
      chmod u+w "$TOOLS_DIR/crds/$out"
    fi
  done
  for src in "${pinned_crd_sources[@]}"; do
    read -r module file out <<<"$src"
    dir=$(moddir "$module") # module@version: leaves go.mod alone
    cp "$dir/$file" "$TOOLS_DIR/crds/$out"
    chmod u+w "$TOOLS_DIR/crds/$out"
  done
  if [[ -n "$kc_dir" ]]; then
    {
      cat "$kc_dir/keycloaks.k8s.keycloak.org-v1.yml"
      printf -- '---\n'
      cat "$kc_dir/keycloakrealmimports.k8s.keycloak.org-v1.yml"
    } > "$TOOLS_DIR/crds/keycloak.yaml"
  else
    rm -f "$TOOLS_DIR/crds/keycloak.yaml"
  fi
  rm -f "$TOOLS_DIR/crds/vpa-v1.yaml" # name used before Istio's CRDs joined
  printf '%s' "$stamp" > "$want"
}

# The Keycloak operator release whose CRDs the stack check installs; the
# platform applies the same release (components/identityprovider,
# internal/keycloakapi.OperatorVersion: a unit test holds them equal).
KEYCLOAK_OPERATOR_VERSION=26.0.0

# Ory Hydra, the OpenID provider the services' integration tests run.
HYDRA_VERSION=v2.3.0
build_hydra() {
  local out="$TOOLS_DIR/hydra-$HYDRA_VERSION"
  if [[ ! -x "$out/hydra" ]]; then
    log "building Ory Hydra $HYDRA_VERSION (about 3 minutes cold)"
    mkdir -p "$out"
    (cd "$ROOT/tools/hydra" && GOFLAGS=-mod=readonly go build -tags sqlite -o "$out/hydra.tmp" .) && mv "$out/hydra.tmp" "$out/hydra"
  fi
  link hydra "$out/hydra"
}

# kube-score: the manifest check the stack check runs over the stack's objects.
build_kube_score() {
  local out="$TOOLS_DIR/kube-score-$KUBE_SCORE_VERSION"
  if [[ ! -x "$out/kube-score" ]]; then
    log "building kube-score $KUBE_SCORE_VERSION (about 1 minute cold)"
    mkdir -p "$out"
    GOBIN="$out" go install "github.com/zegl/kube-score/cmd/kube-score@$KUBE_SCORE_VERSION"
  fi
  link kube-score "$out/kube-score"
}

# The sources the module proxy does not serve (../shared/vendor next to the
# checkout on the project's build machines, or BULWARK_VENDOR_DIR).
vendor_dir() {
  local d
  for d in "${BULWARK_VENDOR_DIR:-}" "$ROOT/../shared/vendor" /work/shared/vendor; do
    [[ -n "$d" && -d "$d" ]] && { (cd "$d" && pwd); return 0; }
  done
  return 1
}

# cert-manager's controller, run out of cluster by the local cluster so
# that Certificates are really issued. Its entry point is a nested module
# the proxy does not serve: built from the vendored archive when present.
build_cert_manager() {
  local out="$TOOLS_DIR/cert-manager-$CERT_MANAGER_VERSION"
  if [[ ! -x "$out/cert-manager-controller" ]]; then
    local vendor archive
    if ! vendor=$(vendor_dir) || [[ ! -f "$vendor/cert-manager-$CERT_MANAGER_VERSION-cmd-controller.tar.gz" ]]; then
      log "cert-manager controller: no cert-manager-$CERT_MANAGER_VERSION-cmd-controller.tar.gz in ../shared/vendor (or BULWARK_VENDOR_DIR);"
      log "  the local cluster then holds Certificates that nothing issues. With internet access, build cmd/controller"
      log "  of github.com/cert-manager/cert-manager $CERT_MANAGER_VERSION and put it at $out/cert-manager-controller."
      return 0
    fi
    archive="$vendor/cert-manager-$CERT_MANAGER_VERSION-cmd-controller.tar.gz"
    log "building the cert-manager controller $CERT_MANAGER_VERSION from $archive (about 5 minutes cold)"
    local tmp; tmp=$(mktemp -d); trap 'rm -rf "$tmp"' RETURN
    tar xzf "$archive" -C "$tmp"
    mkdir -p "$out"
    (cd "$tmp/cmd/controller" && go build -trimpath -ldflags='-s -w' -o "$out/cert-manager-controller.tmp" .)
    mv "$out/cert-manager-controller.tmp" "$out/cert-manager-controller"
  fi
  link cert-manager-controller "$out/cert-manager-controller"
}

# OpenBao (bao): the Vault-compatible server the local cluster runs in dev
# mode as the local and ci stacks' external Vault, and whose `bao agent`
# renders database credentials in the rotation test. Not served as a Go
# module: built from the vendored source archive when present.
build_openbao() {
  local out="$TOOLS_DIR/openbao-$OPENBAO_VERSION"
  if [[ ! -x "$out/bao" ]]; then
    local vendor archive="openbao-$OPENBAO_VERSION-src.tgz"
    if ! vendor=$(vendor_dir) || [[ ! -f "$vendor/$archive" ]]; then
      log "OpenBao: no $archive in ../shared/vendor (or BULWARK_VENDOR_DIR); install the official"
      log "  OpenBao ${OPENBAO_VERSION#v} release binary at $out/bao (or a Vault binary: same API)."
      return 0
    fi
    log "building OpenBao $OPENBAO_VERSION from $vendor/$archive (about 13 minutes cold)"
    local tmp; tmp=$(mktemp -d); trap 'rm -rf "$tmp"' RETURN
    mkdir -p "$tmp/openbao" "$out"
    tar xzf "$vendor/$archive" -C "$tmp/openbao"
    (cd "$tmp/openbao" && go build -o "$out/bao.tmp" \
       -ldflags "-s -w -X github.com/openbao/openbao/version.fullVersion=${OPENBAO_VERSION#v}" .)
    mv "$out/bao.tmp" "$out/bao"
  fi
  link bao "$out/bao"
}

# The Pulumi Vault provider plugin the Vault layer runs. Not served as a Go
# module: built from the vendored provider archive when present; with
# internet, `pulumi plugin install resource vault $VAULT_PROVIDER_VERSION` does it.
build_vault_provider() {
  local out="$TOOLS_DIR/pulumi-resource-vault-v$VAULT_PROVIDER_VERSION"
  if [[ ! -x "$out/pulumi-resource-vault" ]]; then
    local vendor archive="pulumi-vault-v$VAULT_PROVIDER_VERSION-provider+upstream-min.tgz"
    if ! vendor=$(vendor_dir) || [[ ! -f "$vendor/$archive" ]]; then
      log "pulumi-resource-vault: no $archive in ../shared/vendor (or BULWARK_VENDOR_DIR);"
      log "  run \`pulumi plugin install resource vault $VAULT_PROVIDER_VERSION\` instead."
      return 0
    fi
    log "building pulumi-resource-vault $VAULT_PROVIDER_VERSION from $vendor/$archive (about 7 minutes cold)"
    local tmp; tmp=$(mktemp -d); trap 'rm -rf "$tmp"' RETURN
    mkdir -p "$tmp/src" "$out"
    tar xzf "$vendor/$archive" -C "$tmp/src"
    (cd "$tmp/src/provider" && go build -o "$out/pulumi-resource-vault.tmp" \
       -ldflags "-X github.com/pulumi/pulumi-vault/provider/v6/pkg/version.Version=$VAULT_PROVIDER_VERSION" ./cmd/pulumi-resource-vault)
    mv "$out/pulumi-resource-vault.tmp" "$out/pulumi-resource-vault"
  fi
  link pulumi-resource-vault "$out/pulumi-resource-vault"
}

# The External Secrets controller, run out of cluster by the local cluster
# so that ExternalSecrets become real Secrets. Its main module is served.
build_external_secrets() {
  local out="$TOOLS_DIR/external-secrets-$ESO_VERSION-vault"
  if [[ ! -x "$out/external-secrets" ]]; then
    log "building the External Secrets controller $ESO_VERSION, Vault provider only (about 2 minutes cold)"
    local dir tmp; dir=$(moddir "github.com/external-secrets/external-secrets@$ESO_VERSION")
    tmp=$(mktemp -d); trap 'rm -rf "$tmp"' RETURN
    cp -r "$dir" "$tmp/src" && chmod -R u+w "$tmp/src"
    # Only the providers Bulwark's stores use (Vault) and the ones its
    # tests may (Kubernetes, fake, webhook): the other thirty pull in every
    # cloud's SDK and double the build. The CRDs still describe them all.
    cat > "$tmp/src/pkg/provider/register/register.go" <<'GO'
// Package register: trimmed by Bulwark's hack/tools.sh to the providers it uses.
package register

import (
	_ "github.com/external-secrets/external-secrets/pkg/provider/fake"
	_ "github.com/external-secrets/external-secrets/pkg/provider/kubernetes"
	_ "github.com/external-secrets/external-secrets/pkg/provider/vault"
	_ "github.com/external-secrets/external-secrets/pkg/provider/webhook"
)
GO
    mkdir -p "$out"
    (cd "$tmp/src" && go build -trimpath -ldflags='-s -w' -o "$out/external-secrets.tmp" .)
    mv "$out/external-secrets.tmp" "$out/external-secrets"
  fi
  link external-secrets "$out/external-secrets"
}

build_one() {
  case "$1" in
    pulumi) build_pulumi ;;
    k8s-provider) build_k8s_provider ;;
    cluster) build_cluster ;;
    kwok) build_kwok ;;
    crds) install_crds ;;
    hydra) build_hydra ;;
    kube-score) build_kube_score ;;
    cert-manager) build_cert_manager ;;
    openbao) build_openbao ;;
    vault-provider) build_vault_provider ;;
    external-secrets) build_external_secrets ;;
    *) echo "tools.sh: unknown tool $1 (pulumi, k8s-provider, cluster, kwok, crds, hydra, kube-score, cert-manager, openbao, vault-provider, external-secrets)" >&2; return 2 ;;
  esac
  # A build function's `trap 'rm -rf "$tmp"' RETURN` stays set here once
  # it returned; it must not fire again when this function returns.
  trap - RETURN
}

# lane TOOL...: build the tools one after the other. Never call it (or a
# build function) on the left of || or &&: bash then ignores set -e inside
# it, and a failed build would be linked as if it had worked.
lane() { local t; for t in "$@"; do build_one "$t"; done; }

if (( $# )); then
  lane "$@"
else
  # Two lanes at once: a cold build is mostly compiling, but each tool
  # also waits on module downloads and a single-threaded link, which the
  # other lane fills (the lanes are balanced by their cold times, about
  # 25 minutes each on 2 cores). A warm run costs nothing either way.
  lane pulumi k8s-provider cluster kwok hydra &
  a=$!
  lane openbao vault-provider cert-manager external-secrets kube-score &
  b=$!
  failed=0
  wait "$a" || failed=1
  wait "$b" || failed=1
  (( failed == 0 )) || { log "a tool failed to build (see above)"; exit 1; }
  lane crds
fi
log "tools ready in $BIN"
