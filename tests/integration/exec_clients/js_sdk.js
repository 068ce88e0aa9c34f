// The official Databricks SDK for JavaScript as a child of `dbroker exec`:
// it configures itself from DATABRICKS_HOST, DATABRICKS_TOKEN and
// DATABRICKS_AUTH_TYPE as it would for a real workspace, then asks who it
// is, creates a cluster from the spec file (argv[2]) and waits for it to
// run, lists clusters, reads an error answer, and deletes the cluster and
// waits for it to end. Prints one JSON document.
const fs = require("fs");
const {WorkspaceClient} = require("@databricks/sdk-experimental");

(async () => {
    const w = new WorkspaceClient({});
    const out = {};
    out.me = (await w.currentUser.me()).userName;
    const spec = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
    const states = [];
    const waiter = await w.clusters.create(spec);
    const running = await waiter.wait({onProgress: async (c) => states.push(c.state)});
    out.create = [running.cluster_id, running.state, states.includes("PENDING")];
    out.list = [];
    for await (const c of w.clusters.list({})) out.list.push(c.cluster_id);
    try {
        await w.clusters.get({cluster_id: "0000-000000-nothere0"});
        out.missing = "no error";
    } catch (e) {
        out.missing = [e.statusCode || null, String(e.message)];
    }
    const gone = await (await w.clusters.delete({cluster_id: running.cluster_id})).wait();
    out.deleted = gone.state;
    console.log(JSON.stringify(out));
})().catch((e) => {
    console.error("js_sdk: " + (e && e.stack ? e.stack : String(e)));
    process.exit(1);
});
