"""A client the way the Databricks SDKs are configured: DATABRICKS_HOST and
DATABRICKS_TOKEN from the environment, python3-requests, one session. It asks
the well-known endpoint first (without a token), then creates, gets and lists
clusters, and reads an error answer. Prints one JSON document."""
import json
import os
import sys

import requests

host = os.environ["DATABRICKS_HOST"].rstrip("/")
s = requests.Session()
s.headers["Authorization"] = "Bearer " + os.environ["DATABRICKS_TOKEN"]
out = {"auth_type": os.environ.get("DATABRICKS_AUTH_TYPE")}
r = requests.get(host + "/.well-known/databricks-config", timeout=30)
out["well_known"] = [r.status_code, r.json()]
spec = json.load(open(sys.argv[1]))
r = s.post(host + "/api/2.1/clusters/create", json=spec, timeout=30)
out["create"] = [r.status_code, r.json()]
cid = r.json().get("cluster_id")
r = s.get(host + "/api/2.1/clusters/get", params={"cluster_id": cid}, timeout=30)
out["get"] = [r.status_code, r.json().get("state"), r.headers.get("x-request-id")]
r = s.get(host + "/api/2.1/clusters/list", timeout=30)
out["list"] = [r.status_code, [c["cluster_id"] for c in r.json().get("clusters", [])]]
r = s.get(host + "/api/2.1/clusters/get", params={"cluster_id": "0000-000000-nothere0"},
          timeout=30)
out["missing"] = [r.status_code, r.json().get("error_code"), r.headers.get("Content-Type")]
r = s.get(host + "/api/2.0/preview/scim/v2/Me", timeout=30)
out["me"] = [r.status_code, r.json().get("userName")]
print(json.dumps(out))
