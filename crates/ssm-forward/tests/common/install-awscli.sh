#!/usr/bin/env bash
# Installs the AWS CLI (v1, from PyPI) and botocore into a Python
# virtualenv, for the AWS CLI tests in tests/plugin.rs and
# tests/sso_awscli.rs. Idempotent: quick when already there.
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

# botocore from PyPI too, for the SSO cache test (tests/sso_awscli.rs);
# awscli 1.x carries its own copy inside the awscli package.
botocore_version=${BOTOCORE_VERSION:-1.44.8}

if [ -x "$aws" ] && "$aws" --version >/dev/null 2>&1 \
    && "$venv/bin/python3" -c "import botocore, sys; sys.exit(botocore.__version__ != '$botocore_version')" 2>/dev/null; then
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

[ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
# The version verified against ssm-sim with the official plugin (docs/ssm-sim.md).
"$venv/bin/pip" install --quiet --disable-pip-version-check "awscli==${AWSCLI_VERSION:-1.46.3}" \
    "botocore==$botocore_version"
"$aws" --version >&2
echo "$aws"
