#!/bin/sh
# Installs the pinned schemathesis (and its pinned dependencies, requirements.txt) into a
# virtualenv that the `api_schema` integration test runs. Idempotent: an existing venv with the
# pinned version is left alone. Needs python3 with the venv module (Debian: python3-venv) and PyPI.
#
#   tests/schema/install.sh            # into target/py-tools
#   JTB_PY_TOOLS=/opt/x tests/schema/install.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
venv=${JTB_PY_TOOLS:-$root/target/py-tools}
version=$(sed -n 's/^schemathesis==//p' "$here/requirements.txt")

if [ -x "$venv/bin/schemathesis" ] &&
    [ "$("$venv/bin/schemathesis" --version 2>/dev/null)" = "schemathesis, version $version" ]; then
    echo "schemathesis $version already in $venv"
    exit 0
fi
if ! python3 -m venv "$venv"; then
    echo "install.sh: python3 -m venv failed; on Debian install python3-venv" >&2
    exit 1
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
echo "installed: $("$venv/bin/schemathesis" --version) in $venv"
