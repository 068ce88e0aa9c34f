#!/bin/sh
# dbroker demo: install what is missing, build, and run the main job end to
# end on this machine: create the single-node cluster of the project's seed
# notes on a local HTTPS Databricks workspace (tests/doubles/workspace.py,
# with a throw-away CA) and wait until it is RUNNING, with the token kept in
# a local HashiCorp Vault double (tests/doubles/vault.py), resolved through
# the credential chain, and every line masked; then the same token is kept in
# the kernel keyring, as on a headless host without D-Bus, for a second
# cluster; then run a job and a one-time run that fails (dbroker jobs); then
# the cluster once more as a service principal (OAuth machine-to-machine)
# whose client secret comes from Vault, its access tokens minted and
# refreshed in memory during the wait. Then a Python requests script, curl
# and the official Databricks SDK for JavaScript work with the workspace
# through `dbroker exec` without ever seeing the token, and an `exec --mint` run uses a short-lived token that is gone
# afterwards. Last, a `dbroker agent` holds the token for several commands
# and refuses another user (a throw-away one, made and removed when the demo
# runs as root). Nothing here touches
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
vault_pid=""
cleanup() {
	# the kernel keyring is not a file under $demo: log out of it
	[ -n "${kernel_login:-}" ] && "$dbroker" -p headless logout --store kernel >/dev/null 2>&1
	[ -n "$ws_pid" ] && kill "$ws_pid" 2>/dev/null && wait "$ws_pid" 2>/dev/null
	[ -n "$vault_pid" ] && kill "$vault_pid" 2>/dev/null && wait "$vault_pid" 2>/dev/null
	[ -n "${agent_pid:-}" ] && kill "$agent_pid" 2>/dev/null
	[ -n "${other_made:-}" ] && userdel "$other" 2>/dev/null
	rm -rf "$demo"
}
trap cleanup EXIT INT TERM
export HOME="$demo/home"
mkdir -p "$HOME"
export DBROKER_PLUGIN_DIR="$root/build/release/plugins"
unset DATABRICKS_TOKEN DATABRICKS_HOST DATABRICKS_CONFIG_FILE DATABRICKS_CONFIG_PROFILE DBROKER_CHAIN

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# A random demo token, shaped like a real Databricks PAT. The workspace
# double knows it from a 0600 file, the Vault double keeps it in KV v2;
# dbroker reads it from Vault into locked memory and never writes it anywhere.
token="dapi$(openssl rand -hex 16)"
vault_token="hvs.$(openssl rand -hex 20)"
# a service principal: its client id is not secret, its client secret is
sp_id="$(cat /proc/sys/kernel/random/uuid)"
sp_secret="dose$(openssl rand -hex 16)"
umask 077
printf '%s\n' "$token" > "$demo/workspace-token"

wait_port() { # wait_port FILE LOG
	i=0
	while [ ! -s "$1" ]; do
		i=$((i + 1))
		[ "$i" -lt 100 ] || { cat "$2" >&2; exit 1; }
		sleep 0.1
	done
}

step "a local HTTPS workspace with a throw-away CA"
sh tests/doubles/mkca.sh "$demo/tls" >/dev/null
/usr/bin/python3 tests/doubles/workspace.py --cert "$demo/tls/server.pem" \
	--key "$demo/tls/server.key" --port 0 --port-file "$demo/port" \
	--token-file "$demo/workspace-token" --pending-seconds 4 --terminating-seconds 2 \
	2>"$demo/workspace.log" &
ws_pid=$!
wait_port "$demo/port" "$demo/workspace.log"
port=$(cat "$demo/port")
echo "workspace listening on https://localhost:$port"

step "a local HTTPS Vault holding the token (KV v2, secret/databricks/demo)"
cat > "$demo/vault-state.json" <<STATE
{"mounts": {"secret/": {"version": 2}},
 "secrets": {"secret/databricks/demo": [{"token": "$token", "host": "https://localhost:$port"}],
             "secret/databricks/sp": [{"client_id": "$sp_id", "client_secret": "$sp_secret",
                                       "host": "https://localhost:$port"}]},
 "tokens": {"$vault_token": {}}}
STATE
/usr/bin/python3 tests/doubles/vault.py --cert "$demo/tls/server.pem" \
	--key "$demo/tls/server.key" --port 0 --port-file "$demo/vault-port" \
	--state-file "$demo/vault-state.json" 2>"$demo/vault.log" &
vault_pid=$!
wait_port "$demo/vault-port" "$demo/vault.log"
echo "vault listening on https://localhost:$(cat "$demo/vault-port")"

step "a profile that names the Vault secret, and no token in it"
cat > "$HOME/.databrickscfg" <<CFG
[demo]
ca_cert = $demo/tls/ca.pem
vault_addr = https://localhost:$(cat "$demo/vault-port")
vault_path = secret/databricks/demo
CFG
chmod 600 "$HOME/.databrickscfg"
cat "$HOME/.databrickscfg"

export DATABRICKS_CONFIG_PROFILE=demo
export VAULT_CACERT="$demo/tls/ca.pem"
# the Vault token, as a CI job's Vault login would leave it in VAULT_TOKEN;
# dbroker wipes it from its environment block once read
export VAULT_TOKEN="$vault_token"

step "dbroker auth describe   (the token and the workspace host come from Vault)"
"$dbroker" auth describe

step "dbroker clusters create   (the seed's single-node cluster; waits until RUNNING)"
out=$("$dbroker" clusters create)
echo "$out"
cluster_id=$(printf '%s' "$out" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["cluster_id"])')

step "dbroker --debug clusters get $cluster_id   (the HTTP exchange, masked)"
"$dbroker" --debug clusters get "$cluster_id" 2>&1 >/dev/null |
	grep -E '^dbroker: debug: ([<>] (GET|HTTP|Host|Authorization|X-Vault-Token)|< body: .*secret)' || true

step "dbroker clusters list"
"$dbroker" clusters list | head -n 12

step "dbroker exec: a Python requests script creates and lists clusters, never seeing the token"
cat > "$demo/sdk_script.py" <<'PY'
import os, requests
host, tok = os.environ["DATABRICKS_HOST"], os.environ["DATABRICKS_TOKEN"]
print("script: DATABRICKS_HOST =", host)
print("script: my DATABRICKS_TOKEN starts with", tok[:7], "- a capability, not a Databricks token")
s = requests.Session()
s.headers["Authorization"] = "Bearer " + tok
spec = {"cluster_name": "from-a-script", "spark_version": "15.4.x-scala2.12",
        "node_type_id": "i3.xlarge", "num_workers": 1}
r = s.post(host + "/api/2.1/clusters/create", json=spec)
print("script: created", r.json()["cluster_id"], "(HTTP %d)" % r.status_code)
r = s.get(host + "/api/2.1/clusters/list")
for c in r.json()["clusters"]:
    print("script: cluster", c["cluster_id"], c["cluster_name"], c["state"])
PY
"$dbroker" exec -- /usr/bin/python3 "$demo/sdk_script.py"

step "dbroker exec: curl lists the clusters the same way"
"$dbroker" exec -- sh -c 'curl -sS -H "Authorization: Bearer $DATABRICKS_TOKEN" \
	"$DATABRICKS_HOST/api/2.1/clusters/list" | /usr/bin/python3 -c "import json,sys
for c in json.load(sys.stdin)[\"clusters\"]: print(\"curl: cluster\", c[\"cluster_id\"], c[\"state\"])"'

step "dbroker exec: the official Databricks SDK for JavaScript, configured from the same variables"
NODE_PATH="$root/tests/js-sdk/node_modules" "$dbroker" exec -- node -e '
const {WorkspaceClient} = require("@databricks/sdk-experimental");
(async () => {
	const w = new WorkspaceClient({});
	console.log("js sdk: I am", (await w.currentUser.me()).userName);
	for await (const c of w.clusters.list({})) console.log("js sdk: cluster", c.cluster_id, c.state);
})().catch((e) => { console.error("js sdk:", String(e)); process.exit(1); });'

step "dbroker exec --mint 5m: a real token that lives 5 minutes, revoked when the command ends"
"$dbroker" --log-level info exec --mint 5m -- sh -c 'echo "child: DATABRICKS_TOKEN=$DATABRICKS_TOKEN (masked in what dbroker shows)"; curl -sS -o /dev/null --cacert "$VAULT_CACERT" -H "Authorization: Bearer $DATABRICKS_TOKEN" -w "child: the minted token works: HTTP %{http_code}\n" "$DATABRICKS_HOST/api/2.1/clusters/list"'

step "dbroker tokens list   (the minted token is gone)"
"$dbroker" tokens list

step "dbroker clusters delete $cluster_id   (waits until TERMINATED)"
"$dbroker" clusters delete "$cluster_id"

step "a job on the workspace (made through the double's admin API), run with dbroker jobs run-now"
job_id=$(DEMO_CA="$demo/tls/ca.pem" DEMO_PORT="$port" /usr/bin/python3 - <<'PY'
import json, os, ssl, urllib.request
ctx = ssl.create_default_context(cafile=os.environ["DEMO_CA"])
def admin(path, body):
    req = urllib.request.Request("https://localhost:%s/__admin/%s" % (os.environ["DEMO_PORT"], path),
                                 data=json.dumps(body).encode(), method="POST")
    return json.load(urllib.request.urlopen(req, context=ctx))
admin("jobs_config", {"pending_seconds": 1, "task_seconds": 1.5})
task = lambda key, **t: dict({"task_key": key, "existing_cluster_id": "1234-567890-abcde123",
                              "notebook_task": {"notebook_path": "/Shared/" + key}}, **t)
print(admin("jobs", {"name": "nightly-etl", "tasks": [
    task("ingest"), task("transform", depends_on=[{"task_key": "ingest"}])]})["job_id"])
PY
)
"$dbroker" jobs run-now "$job_id" --json '{"env": "demo"}'

step "a one-time run whose second task fails (exit code 9, the task's error and trace on stderr)"
cat > "$demo/run.json" <<'RUN'
{"run_name": "one-off backfill",
 "tasks": [
  {"task_key": "extract", "notebook_task": {"notebook_path": "/Shared/extract"},
   "new_cluster": {"spark_version": "15.4.x-scala2.12", "node_type_id": "Standard_DS3_v2",
                   "num_workers": 2}},
  {"task_key": "load", "depends_on": [{"task_key": "extract"}],
   "notebook_task": {"notebook_path": "/Shared/load double:fail"},
   "existing_cluster_id": "1234-567890-abcde123"}]}
RUN
set +e
"$dbroker" jobs submit --json @"$demo/run.json" >"$demo/run-out.json"
echo "exit code: $?"
set -e
/usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(json.dumps({k: r[k] for k in ("run_id", "result_state", "tasks")}, indent=1))' "$demo/run-out.json"

step "dbroker jobs list-runs --limit 5"
"$dbroker" jobs list-runs --limit 5 | head -n 12

step "secrets are refused as flags (exit code 2)"
set +e
"$dbroker" clusters list --token=not-a-real-token
echo "exit code: $?"

step "a wrong token is rejected by the workspace (exit code 5)"
DATABRICKS_HOST="https://localhost:$port" DATABRICKS_TOKEN="dapi$(openssl rand -hex 16)" "$dbroker" clusters list
echo "exit code: $?"

step "a Vault token without access: Vault fails closed, no weaker fallback (exit code 5)"
VAULT_TOKEN="hvs.$(openssl rand -hex 20)" "$dbroker" clusters list
echo "exit code: $?"

step "no credential anywhere: every provider says why (exit code 3)"
env -u VAULT_TOKEN "$dbroker" --chain env,keyring,profile clusters list
echo "exit code: $?"
set -e

step "a service principal (OAuth M2M): client id and secret in Vault, access tokens in memory"
# the workspace knows the service principal; its access tokens live 3 s
# here (an hour on a real workspace), so the wait below outlives several
DEMO_CA="$demo/tls/ca.pem" DEMO_PORT="$port" SP_ID="$sp_id" SP_SECRET="$sp_secret" \
	/usr/bin/python3 - <<'PY'
import json, os, ssl, urllib.request
ctx = ssl.create_default_context(cafile=os.environ["DEMO_CA"])
req = urllib.request.Request("https://localhost:%s/__admin/oauth" % os.environ["DEMO_PORT"],
                             data=json.dumps({"lifetime": 3, "clients": [
                                 {"client_id": os.environ["SP_ID"], "user": "etl-automation",
                                  "client_secret": os.environ["SP_SECRET"]}]}).encode(),
                             method="POST")
urllib.request.urlopen(req, context=ctx).read()
PY
cat >> "$HOME/.databrickscfg" <<CFG
[sp]
ca_cert = $demo/tls/ca.pem
vault_addr = https://localhost:$(cat "$demo/vault-port")
vault_path = secret/databricks/sp
CFG
sed -n '/^\[sp\]/,$p' "$HOME/.databrickscfg"
step "dbroker -p sp auth describe --check   (auth type oauth-m2m, inferred from what Vault holds)"
"$dbroker" -p sp auth describe --check
step "dbroker -p sp clusters create   (tokens renewed before they expire, during the wait)"
out=$("$dbroker" -p sp clusters create --name service-principal)
echo "$out"
sid=$(printf '%s' "$out" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["cluster_id"])')
"$dbroker" -p sp clusters delete "$sid" >/dev/null
step "a wrong client secret: the workspace says invalid_client (exit code 5)"
set +e
env -u VAULT_TOKEN DATABRICKS_HOST="https://localhost:$port" DATABRICKS_CLIENT_ID="$sp_id" \
	DATABRICKS_CLIENT_SECRET="dose$(openssl rand -hex 16)" "$dbroker" --chain env \
	--ca-cert "$demo/tls/ca.pem" clusters list
echo "exit code: $?"
set -e

step "a headless host (no D-Bus, no desktop keyring): the token in the kernel keyring"
cat >> "$HOME/.databrickscfg" <<CFG
[headless]
ca_cert = $demo/tls/ca.pem
CFG
cat "$HOME/.databrickscfg" | sed -n '/^\[headless\]/,$p'
echo "\$ dbroker -p headless login --store kernel --ttl 10m --host https://localhost:$port   (token on stdin)"
kernel_login=1
if printf '%s\n' "$token" | env -u DBUS_SESSION_BUS_ADDRESS XDG_RUNTIME_DIR="$demo" \
	"$dbroker" -p headless login --store kernel --ttl 10m --host "https://localhost:$port"; then
	step "dbroker -p headless auth describe   (the default chain finds the kernel's key)"
	env -u DBUS_SESSION_BUS_ADDRESS XDG_RUNTIME_DIR="$demo" "$dbroker" -p headless auth describe
	echo "\$ grep dbroker: /proc/keys     (the kernel's view: expiry, permissions 3f010000)"
	grep 'dbroker:headless:' /proc/keys || true
	step "dbroker -p headless clusters create   (token from the kernel keyring)"
	out=$(env -u DBUS_SESSION_BUS_ADDRESS XDG_RUNTIME_DIR="$demo" "$dbroker" -p headless clusters create --name headless)
	echo "$out"
	kid=$(printf '%s' "$out" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["cluster_id"])')
	"$dbroker" -p headless clusters delete "$kid" >/dev/null
	step "dbroker -p headless logout --store kernel   (unlinked and invalidated)"
	"$dbroker" -p headless logout --store kernel
	kernel_login=""
	set +e
	env -u DBUS_SESSION_BUS_ADDRESS XDG_RUNTIME_DIR="$demo" "$dbroker" -p headless --chain kernel auth describe >/dev/null
	echo "afterwards: 'auth describe --chain kernel' exits $? (no credential)"
	set -e
else
	kernel_login=""
	echo "(the kernel keyring is refused on this host, as above: skipped)"
fi

step "dbroker agent: one process holds the token, every command asks it (a shared bastion host)"
mkdir -m 700 "$demo/agent"
echo "\$ eval \"\$(dbroker --log-file agent.log agent start --socket $demo/agent/agent.sock)\""
eval "$("$dbroker" --log-file "$demo/agent.log" agent start --socket "$demo/agent/agent.sock")"
agent_pid=$DBROKER_AGENT_PID
echo "agent pid $DBROKER_AGENT_PID; DBROKER_AGENT_SOCK=$DBROKER_AGENT_SOCK"
echo "\$ dbroker clusters list; dbroker api GET /api/2.0/preview/scim/v2/Me; dbroker clusters get ..."
"$dbroker" clusters list
"$dbroker" api GET /api/2.0/preview/scim/v2/Me
"$dbroker" -o json clusters get "$cluster_id" | /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["cluster_id"], d["state"])'
step "dbroker agent status   (one resolution from Vault served every command above)"
"$dbroker" agent status
step "another user is refused, even with the socket opened to everyone"
if [ "$(id -u)" -eq 0 ] && command -v useradd >/dev/null && command -v setpriv >/dev/null; then
	other="dbrdemo$$"
	useradd --system --no-create-home --shell /usr/sbin/nologin "$other"
	other_made=1
	chmod 711 "$demo" "$demo/agent"
	chmod 666 "$DBROKER_AGENT_SOCK"
	echo "(chmod 666 on the socket: the file mode is not what protects it)"
	as_other() { setpriv --reuid="$other" --regid="$other" --clear-groups "$@"; }
	echo "\$ dbroker clusters list   as user $other (the client refuses an agent of another uid)"
	set +e
	as_other env -i PATH=/usr/bin:/bin HOME=/ DBROKER_AGENT_SOCK="$DBROKER_AGENT_SOCK" "$dbroker" clusters list
	echo "exit code $?"
	echo "\$ a raw connection to the socket as user $other (the agent refuses it: SO_PEERCRED)"
	as_other /usr/bin/python3 -c 'import socket,sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); print("the agent answered:", s.recv(4096)[24:].split(b"\0")[0].decode(errors="replace"), "and closed the connection")' "$DBROKER_AGENT_SOCK"
	set -e
	chmod 600 "$DBROKER_AGENT_SOCK"
	chmod 700 "$demo" "$demo/agent"
	userdel "$other" 2>/dev/null; other_made=""
	echo "\$ grep refused agent.log"
	grep refused "$demo/agent.log" | sed 's/^[^ ]* //'
else
	echo "(needs root, useradd and setpriv to make a throw-away user: skipped. To try it: start"
	echo " an agent, chmod 666 its socket, then connect as another user; dbroker refuses an agent"
	echo " of another uid, and the agent refuses and logs the other uid: see README, 'dbroker agent')"
fi
step "dbroker agent stop   (every credential wiped; commands resolve by themselves again)"
"$dbroker" agent stop
unset DBROKER_AGENT_SOCK DBROKER_AGENT_PID
agent_pid=""

step "the demo token was never printed or written by dbroker"
# the doubles' own files hold it by design; nothing else may
if grep -rl -- "$token" "$demo" | grep -v -e "^$demo/workspace-token\$" -e "^$demo/vault-state.json\$"; then
	echo "LEAK: the token was found in the files above" >&2
	exit 1
fi
echo "no file under the demo directory but the doubles' own state contains it;"
echo "the output above shows only its fingerprint"
