#!/bin/sh
# dbroker demo: install what is missing, build, and run the main job end to
# end on this machine: create the single-node cluster of the project's seed
# notes on a local HTTPS Databricks workspace (tests/doubles/workspace.py,
# with a throw-away CA) and wait until it is RUNNING, with the token resolved
# through the credential chain and every line masked. Nothing here touches
# your real ~/.databrickscfg: the demo works in a private temporary HOME that
# is removed afterwards.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)

scripts/bootstrap
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/release -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
dbroker="$root/build/release/bin/dbroker"

demo=$(mktemp -d)
ws_pid=""
cleanup() {
	[ -n "$ws_pid" ] && kill "$ws_pid" 2>/dev/null && wait "$ws_pid" 2>/dev/null
	rm -rf "$demo"
}
trap cleanup EXIT INT TERM
export HOME="$demo/home"
mkdir -p "$HOME"
export DBROKER_PLUGIN_DIR="$root/build/release/plugins"
unset DATABRICKS_TOKEN DATABRICKS_HOST DATABRICKS_CONFIG_FILE DATABRICKS_CONFIG_PROFILE DBROKER_CHAIN

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# A random demo token, shaped like a real Databricks PAT. The workspace
# double knows it from a 0600 file; dbroker gets it from the environment
# only, and wipes it from its environment block as soon as it has read it.
token="dapi$(openssl rand -hex 16)"
umask 077
printf '%s\n' "$token" > "$demo/workspace-token"

step "a local HTTPS workspace with a throw-away CA"
sh tests/doubles/mkca.sh "$demo/tls" >/dev/null
/usr/bin/python3 tests/doubles/workspace.py --cert "$demo/tls/server.pem" \
	--key "$demo/tls/server.key" --port 0 --port-file "$demo/port" \
	--token-file "$demo/workspace-token" --pending-seconds 4 --terminating-seconds 2 \
	2>"$demo/workspace.log" &
ws_pid=$!
i=0
while [ ! -s "$demo/port" ]; do
	i=$((i + 1))
	[ "$i" -lt 100 ] || { cat "$demo/workspace.log" >&2; exit 1; }
	sleep 0.1
done
port=$(cat "$demo/port")
echo "listening on https://localhost:$port"

step "a profile with the workspace host and its CA, and no token in it"
cat > "$HOME/.databrickscfg" <<CFG
[demo]
host = https://localhost:$port
ca_cert = $demo/tls/ca.pem
CFG
chmod 600 "$HOME/.databrickscfg"
cat "$HOME/.databrickscfg"

export DATABRICKS_CONFIG_PROFILE=demo

step "dbroker auth describe   (which source supplies the token; never the token)"
DATABRICKS_TOKEN="$token" "$dbroker" auth describe

step "dbroker clusters create   (the seed's single-node cluster; waits until RUNNING)"
out=$(DATABRICKS_TOKEN="$token" "$dbroker" clusters create)
echo "$out"
cluster_id=$(printf '%s' "$out" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["cluster_id"])')

step "dbroker --debug clusters get $cluster_id   (the HTTP exchange, masked)"
DATABRICKS_TOKEN="$token" "$dbroker" --debug clusters get "$cluster_id" 2>&1 >/dev/null |
	grep -E '^dbroker: debug: [<>] (GET|HTTP|Host|Authorization|User-Agent)' || true

step "dbroker clusters list"
DATABRICKS_TOKEN="$token" "$dbroker" clusters list | head -n 12

step "dbroker clusters delete $cluster_id --wait"
DATABRICKS_TOKEN="$token" "$dbroker" clusters delete "$cluster_id" --wait

step "secrets are refused as flags (exit code 2)"
set +e
"$dbroker" clusters list --token=not-a-real-token
echo "exit code: $?"

step "a wrong token is rejected by the workspace (exit code 5)"
DATABRICKS_TOKEN="dapi$(openssl rand -hex 16)" "$dbroker" clusters list
echo "exit code: $?"

step "no credential anywhere: every provider says why (exit code 3)"
"$dbroker" clusters list
echo "exit code: $?"
set -e

step "the demo token was never printed or written by dbroker"
# the workspace double's own token file holds it by design; nothing else may
if grep -rl -- "$token" "$demo" | grep -v "^$demo/workspace-token\$"; then
	echo "LEAK: the token was found in the files above" >&2
	exit 1
fi
echo "no file under the demo directory but the workspace's own token file contains it;"
echo "the output above shows only its fingerprint"
