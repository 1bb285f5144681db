#!/usr/bin/env bash
# Installs the AWS CLI (v1, from PyPI) into a Python virtualenv, for the
# AWS CLI test in tests/plugin.rs. Idempotent: quick when already there.
#
#   tests/common/install-awscli.sh VENV_DIR
#   SSM_FORWARD_AWSCLI=VENV_DIR/bin/aws cargo test -p ssm-forward --test plugin -- --ignored
#
# AWSCLI_VERSION overrides the awscli version installed.
#
# Prints the path of the aws executable on its last line.
set -euo pipefail

venv=${1:?usage: install-awscli.sh VENV_DIR}
aws="$venv/bin/aws"

if [ -x "$aws" ] && "$aws" --version >/dev/null 2>&1; then
    echo "$aws"
    exit 0
fi

if ! python3 -c 'import ensurepip' 2>/dev/null; then
    # Debian splits venv support out of python3.
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    else
        echo "install-awscli.sh: python3 cannot create virtualenvs (install python3-venv)" >&2
        exit 1
    fi
fi

python3 -m venv "$venv"
# The version verified against ssm-sim with the official plugin (docs/ssm-sim.md).
"$venv/bin/pip" install --quiet --disable-pip-version-check "awscli==${AWSCLI_VERSION:-1.46.3}"
"$aws" --version >&2
echo "$aws"
