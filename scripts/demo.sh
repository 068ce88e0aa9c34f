#!/bin/sh
# dbroker demo: install what is missing, build, and run the main job end to
# end on this machine. Nothing here touches your real ~/.databrickscfg: the
# demo works in a private temporary HOME that is removed afterwards.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)

scripts/bootstrap
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/release -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
dbroker="$root/build/release/bin/dbroker"

demo=$(mktemp -d)
trap 'rm -rf "$demo"' EXIT INT TERM
export HOME="$demo/home"
mkdir -p "$HOME"
export DBROKER_PLUGIN_DIR="$root/build/release/plugins"
unset DATABRICKS_TOKEN DATABRICKS_HOST DATABRICKS_CONFIG_FILE DATABRICKS_CONFIG_PROFILE DBROKER_CHAIN

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "a profile with a workspace host and no token in it"
cat > "$HOME/.databrickscfg" <<CFG
[demo]
host = https://adb-1234567890123456.7.azuredatabricks.net
CFG
chmod 600 "$HOME/.databrickscfg"
cat "$HOME/.databrickscfg"

# A random demo token, shaped like a real Databricks PAT. It reaches dbroker
# through the environment only; dbroker wipes it from its environment block
# as soon as it has read it.
token="dapi$(openssl rand -hex 16)"

step "dbroker -p demo auth describe   (token from DATABRICKS_TOKEN)"
DATABRICKS_TOKEN="$token" "$dbroker" -p demo auth describe

step "the same as JSON, with --debug: every line passes through the masker"
DATABRICKS_TOKEN="$token" "$dbroker" -p demo --debug auth describe -o json

step "secrets are refused as flags (exit code 2)"
set +e
"$dbroker" -p demo auth describe --token=not-a-real-token
echo "exit code: $?"

step "no credential anywhere: every provider says why (exit code 3)"
"$dbroker" -p demo auth describe
echo "exit code: $?"
set -e

step "the demo token was never printed:"
if grep -r -- "$token" "$demo" >/dev/null 2>&1; then
	echo "LEAK: the token was found in a file under the demo HOME" >&2
	exit 1
fi
echo "no file under the demo HOME contains it; the output above shows only its fingerprint"
