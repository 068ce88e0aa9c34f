/* Client-side validation of a clusters/create body: every rule the server
 * would apply that we can check without a request, each error naming the
 * field path and what to do, all errors in one go.
 */
#include "cluster_spec_internal.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "banned.h"

#define AUTOTERMINATION_MAX 10000
#define AUTOTERMINATION_MIN 10

static const char *const runtime_engines[] = { "NULL", "STANDARD", "PHOTON", NULL };
static const char *const security_modes[] = {
	"NONE", "SINGLE_USER", "USER_ISOLATION", "LEGACY_TABLE_ACL", "LEGACY_PASSTHROUGH",
	"LEGACY_SINGLE_USER", "LEGACY_SINGLE_USER_STANDARD", "DATA_SECURITY_MODE_STANDARD",
	"DATA_SECURITY_MODE_DEDICATED", "DATA_SECURITY_MODE_AUTO", NULL,
};
static const char *const kinds[] = { "CLASSIC_PREVIEW", NULL };
static const char *const azure_availability[] = {
	"SPOT_AZURE", "ON_DEMAND_AZURE", "SPOT_WITH_FALLBACK_AZURE", NULL,
};

/* The create body's fields (reference: the Clusters API field list). */
static const struct spec_field fields[] = {
	{ "spark_version", SPEC_STRING, NULL, 0 },
	{ "cluster_name", SPEC_STRING, NULL, 0 },
	{ "node_type_id", SPEC_STRING, NULL, 0 },
	{ "driver_node_type_id", SPEC_STRING, NULL, 0 },
	{ "instance_pool_id", SPEC_STRING, NULL, 0 },
	{ "driver_instance_pool_id", SPEC_STRING, NULL, 0 },
	{ "policy_id", SPEC_STRING, NULL, 0 },
	{ "single_user_name", SPEC_STRING, NULL, 0 },
	{ "idempotency_token", SPEC_STRING, NULL, 0 },
	{ "num_workers", SPEC_INT32, NULL, 0 },
	{ "autotermination_minutes", SPEC_INT32, NULL, 0 },
	{ "remote_disk_throughput", SPEC_INT32, NULL, 0 },
	{ "total_initial_remote_disk_size", SPEC_INT32, NULL, 0 },
	{ "apply_policy_default_values", SPEC_BOOL, NULL, 0 },
	{ "enable_elastic_disk", SPEC_BOOL, NULL, 0 },
	{ "enable_local_disk_encryption", SPEC_BOOL, NULL, 0 },
	{ "is_single_node", SPEC_BOOL, NULL, 0 },
	{ "use_ml_runtime", SPEC_BOOL, NULL, 0 },
	{ "spark_conf", SPEC_MAP, NULL, 0 },
	{ "spark_env_vars", SPEC_MAP, NULL, 0 },
	{ "custom_tags", SPEC_MAP, NULL, 45 },
	{ "ssh_public_keys", SPEC_STRINGS, NULL, 10 },
	{ "init_scripts", SPEC_OBJECTS, NULL, 0 },
	{ "autoscale", SPEC_OBJECT, NULL, 0 },
	{ "aws_attributes", SPEC_OBJECT, NULL, 0 },
	{ "azure_attributes", SPEC_OBJECT, NULL, 0 },
	{ "gcp_attributes", SPEC_OBJECT, NULL, 0 },
	{ "clone_from", SPEC_OBJECT, NULL, 0 },
	{ "cluster_log_conf", SPEC_OBJECT, NULL, 0 },
	{ "docker_image", SPEC_OBJECT, NULL, 0 },
	{ "workload_type", SPEC_OBJECT, NULL, 0 },
	{ "driver_node_type_flexibility", SPEC_OBJECT, NULL, 0 },
	{ "worker_node_type_flexibility", SPEC_OBJECT, NULL, 0 },
	{ "runtime_engine", SPEC_ENUM, runtime_engines, 0 },
	{ "data_security_mode", SPEC_ENUM, security_modes, 0 },
	{ "kind", SPEC_ENUM, kinds, 0 },
};

const struct spec_field *spec_field_find(const char *name)
{
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (!strcmp(fields[i].name, name))
			return &fields[i];
	return NULL;
}

int spec_type_settable(enum spec_type type)
{
	return type == SPEC_STRING || type == SPEC_ENUM || type == SPEC_INT32 || type == SPEC_BOOL;
}

static void vline(char *line, size_t cap, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static void vline(char *line, size_t cap, const char *fmt, va_list ap)
{
	int n = vsnprintf(line, cap, fmt, ap);

	/* a cut line must not end inside a UTF-8 sequence */
	if (n >= 0 && (size_t)n >= cap)
		line[spec_clip(line, cap - 4)] = '\0';
	spec_sanitize(line);
}

/* "prefix: " before a line when the report is about a part of a larger
 * document (a job task's new_cluster). */
static size_t put_prefix(const struct spec_report *v, char *line, size_t cap)
{
	int n;

	if (!v->prefix || !*v->prefix)
		return 0;
	n = snprintf(line, cap, "%s: ", v->prefix);
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

void spec_error(struct spec_report *v, const char *fmt, ...)
{
	char line[384];
	va_list ap;
	size_t n = put_prefix(v, line, sizeof(line));

	va_start(ap, fmt);
	vline(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	v->errors++;
	n = strlen(line);
	if (v->len + n + 2 > sizeof(v->msg)) {
		v->omitted++;
		return;
	}
	if (v->len)
		v->msg[v->len++] = '\n';
	memcpy(v->msg + v->len, line, n + 1);
	v->len += n;
}

void spec_warn(struct spec_report *v, const char *fmt, ...)
{
	char line[384];
	va_list ap;
	size_t n;

	if (!v->warn)
		return;
	n = put_prefix(v, line, sizeof(line));
	va_start(ap, fmt);
	vline(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	v->warn(v->warn_arg, line);
}

static const char *kind_of(const cJSON *it)
{
	if (cJSON_IsString(it))
		return "a string";
	if (cJSON_IsNumber(it))
		return "a number";
	if (cJSON_IsBool(it))
		return "a boolean";
	if (cJSON_IsNull(it))
		return "null";
	if (cJSON_IsArray(it))
		return "an array";
	return "an object";
}

static const char *want_text(enum spec_type t)
{
	switch (t) {
	case SPEC_STRING:
	case SPEC_ENUM:
		return "a string";
	case SPEC_INT32:
		return "a whole number";
	case SPEC_BOOL:
		return "true or false";
	case SPEC_MAP:
		return "an object of strings";
	case SPEC_STRINGS:
		return "an array of strings";
	case SPEC_OBJECTS:
		return "an array of objects";
	default:
		return "an object";
	}
}

/* 1 when it is a number holding an int32 exactly. */
static int int32_of(const cJSON *it, int *out)
{
	double d;

	if (!cJSON_IsNumber(it))
		return 0;
	d = it->valuedouble;
	if (!(d >= INT32_MIN && d <= INT32_MAX) || d != (double)(int32_t)d)
		return 0;
	if (out)
		*out = (int)d;
	return 1;
}

static const cJSON *get(const cJSON *o, const char *key)
{
	return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
}

static const char *get_str(const cJSON *o, const char *key)
{
	return cJSON_GetStringValue(get(o, key));
}

/* Check a whole number field of an object; path names it in messages.
 * Returns 1 with *out when valid, 0 after reporting. */
static int check_int(struct spec_report *v, const char *path, const cJSON *it, int *out)
{
	if (int32_of(it, out))
		return 1;
	/* range first: converting a double outside int64 is undefined */
	if (cJSON_IsNumber(it) && it->valuedouble > -1e18 && it->valuedouble < 1e18 &&
	    it->valuedouble == (double)(int64_t)it->valuedouble)
		spec_error(v, "'%s' is %.0f, out of range; use a value from %d to %d", path,
		     it->valuedouble, INT32_MIN, INT32_MAX);
	else if (cJSON_IsNumber(it))
		spec_error(v, "'%s' must be a whole number, not %g", path, it->valuedouble);
	else if (cJSON_IsString(it))
		spec_error(v, "'%s' must be a whole number, not a string; write it without quotes", path);
	else
		spec_error(v, "'%s' must be a whole number, not %s", path, kind_of(it));
	return 0;
}

static void join_values(char *dst, size_t cap, const char *const *values)
{
	size_t o = 0;

	dst[0] = '\0';
	for (size_t i = 0; values[i] && o < cap; i++) {
		int n = snprintf(dst + o, cap - o, "%s%s", i ? ", " : "", values[i]);

		if (n < 0)
			break;
		o += (size_t)n;
	}
}

static void check_enum(struct spec_report *v, const char *path, const char *value,
		       const char *const *values)
{
	char list[320];

	for (size_t i = 0; values[i]; i++)
		if (!strcmp(values[i], value))
			return;
	join_values(list, sizeof(list), values);
	spec_error(v, "'%s' is '%.*s'; use one of %s", path, spec_clip(value, SPEC_NAME_SHOWN), value,
	     list);
}

static void check_map(struct spec_report *v, const struct spec_field *f, const cJSON *it)
{
	char path[160];
	size_t base = spec_path_add(path, sizeof(path), 0, f->name);
	const cJSON *e;
	int n = 0;

	cJSON_ArrayForEach(e, it) {
		n++;
		if (cJSON_IsString(e))
			continue;
		path[base] = '\0';
		spec_path_add(path, sizeof(path), base, e->string);
		if (cJSON_IsNumber(e) || cJSON_IsBool(e))
			spec_error(v, "'%s' must be a string, not %s; put the value in double quotes", path,
			     kind_of(e));
		else
			spec_error(v, "'%s' must be a string, not %s", path, kind_of(e));
	}
	if (f->max_entries && n > f->max_entries)
		spec_error(v, "'%s' has %d entries; Databricks allows at most %d, remove %d", f->name, n,
		     f->max_entries, n - f->max_entries);
}

static void check_array(struct spec_report *v, const struct spec_field *f, const cJSON *it)
{
	const cJSON *e;
	int n = 0;

	cJSON_ArrayForEach(e, it) {
		if (f->type == SPEC_STRINGS && !cJSON_IsString(e))
			spec_error(v, "'%s[%d]' must be a string, not %s", f->name, n, kind_of(e));
		else if (f->type == SPEC_OBJECTS && !cJSON_IsObject(e))
			spec_error(v, "'%s[%d]' must be an object such as {\"workspace\": {\"destination\": \"...\"}}, not %s",
			     f->name, n, kind_of(e));
		n++;
	}
	if (f->max_entries && n > f->max_entries)
		spec_error(v, "'%s' has %d entries; Databricks allows at most %d, remove %d", f->name, n,
		     f->max_entries, n - f->max_entries);
}

/* The JSON type of one known top-level field, and what its type alone
 * decides (enum values, entry counts). */
static void check_type(struct spec_report *v, const struct spec_field *f, const cJSON *it)
{
	int ok;

	switch (f->type) {
	case SPEC_INT32:
		check_int(v, f->name, it, NULL);
		return;
	case SPEC_STRING:
	case SPEC_ENUM:
		ok = cJSON_IsString(it);
		break;
	case SPEC_BOOL:
		ok = cJSON_IsBool(it);
		break;
	case SPEC_MAP:
	case SPEC_OBJECT:
		ok = cJSON_IsObject(it);
		break;
	default:
		ok = cJSON_IsArray(it);
		break;
	}
	if (!ok) {
		if (f->type == SPEC_BOOL && cJSON_IsString(it) &&
		    (!strcmp(it->valuestring, "true") || !strcmp(it->valuestring, "false")))
			spec_error(v, "'%s' must be true or false, not a string; write it without quotes",
			     f->name);
		else if (cJSON_IsNull(it))
			spec_error(v, "'%s' is null; remove the field or give %s", f->name,
			     want_text(f->type));
		else
			spec_error(v, "'%s' must be %s, not %s", f->name, want_text(f->type), kind_of(it));
		return;
	}
	if (f->type == SPEC_ENUM)
		check_enum(v, f->name, it->valuestring, f->values);
	else if (f->type == SPEC_MAP)
		check_map(v, f, it);
	else if (f->type == SPEC_STRINGS || f->type == SPEC_OBJECTS)
		check_array(v, f, it);
}

/* A required string: missing and empty are both errors; a wrong type was
 * reported by check_type. Returns 1 when present and non-empty. */
static int present(const cJSON *root, const char *key)
{
	const char *s = get_str(root, key);

	return s && *s;
}

static void rule_required(struct spec_report *v, const cJSON *root)
{
	const cJSON *sv = get(root, "spark_version");
	const cJSON *nt = get(root, "node_type_id");

	if (!sv)
		spec_error(v, "'spark_version' is missing; add it, e.g. \"spark_version\": \"10.4.x-scala2.12\"");
	else if (cJSON_IsString(sv) && !*sv->valuestring)
		spec_error(v, "'spark_version' is empty; give a runtime version such as \"10.4.x-scala2.12\"");
	if (present(root, "instance_pool_id") || present(root, "policy_id"))
		return;
	if (!nt)
		spec_error(v, "'node_type_id' is missing; add it (e.g. \"Standard_DS3_v2\"), or give 'instance_pool_id' or 'policy_id'");
	else if (cJSON_IsString(nt) && !*nt->valuestring)
		spec_error(v, "'node_type_id' is empty; give a node type such as \"Standard_DS3_v2\", or 'instance_pool_id' or 'policy_id'");
}

static void rule_autoscale(struct spec_report *v, const cJSON *as)
{
	const cJSON *mn = get(as, "min_workers"), *mx = get(as, "max_workers");
	int lo = 0, hi = 0, have_lo = 0, have_hi = 0;

	if (!cJSON_IsObject(as))
		return;
	if (!mn)
		spec_error(v, "'autoscale.min_workers' is missing; add it (0 or more)");
	else
		have_lo = check_int(v, "autoscale.min_workers", mn, &lo);
	if (!mx)
		spec_error(v, "'autoscale.max_workers' is missing; add it (more than min_workers)");
	else
		have_hi = check_int(v, "autoscale.max_workers", mx, &hi);
	if (have_lo && lo < 0) {
		spec_error(v, "'autoscale.min_workers' is %d; use 0 or more", lo);
		have_lo = 0;
	}
	if (have_lo && have_hi && hi <= lo)
		spec_error(v, "'autoscale.max_workers' (%d) must be greater than 'autoscale.min_workers' (%d); raise max_workers or lower min_workers",
		     hi, lo);
}

/* num_workers 0 without the single-node settings: Databricks refuses the
 * spec or starts a driver waiting for workers that never come. */
static void rule_single_node(struct spec_report *v, const cJSON *root)
{
	const cJSON *conf = get(root, "spark_conf"), *tags = get(root, "custom_tags");
	const cJSON *profile = get(conf, "spark.databricks.cluster.profile");
	const cJSON *master = get(conf, "spark.master");
	const cJSON *rc = get(tags, "ResourceClass");
	const char *s;

	/* a spark_conf or custom_tags of the wrong type was reported already */
	if (!conf || cJSON_IsObject(conf)) {
		s = cJSON_GetStringValue(profile);
		if (!profile)
			spec_error(v, "single node (num_workers 0): 'spark_conf[\"spark.databricks.cluster.profile\"]' is missing; add \"spark.databricks.cluster.profile\": \"singleNode\" to spark_conf");
		else if (s && strcmp(s, "singleNode"))
			spec_error(v, "single node (num_workers 0): 'spark_conf[\"spark.databricks.cluster.profile\"]' is '%.*s'; set it to \"singleNode\"",
			     spec_clip(s, SPEC_NAME_SHOWN), s);
		s = cJSON_GetStringValue(master);
		if (!master)
			spec_error(v, "single node (num_workers 0): 'spark_conf[\"spark.master\"]' is missing; add \"spark.master\": \"local[*]\" to spark_conf");
		else if (s && strncmp(s, "local[", 6))
			spec_error(v, "single node (num_workers 0): 'spark_conf[\"spark.master\"]' is '%.*s'; set it to \"local[*]\" (any local[...])",
			     spec_clip(s, SPEC_NAME_SHOWN), s);
	}
	if (tags && !cJSON_IsObject(tags))
		return;
	s = cJSON_GetStringValue(rc);
	if (!rc)
		spec_error(v, "single node (num_workers 0): 'custom_tags.ResourceClass' is missing; add \"ResourceClass\": \"SingleNode\" to custom_tags");
	else if (s && strcmp(s, "SingleNode"))
		spec_error(v, "single node (num_workers 0): 'custom_tags.ResourceClass' is '%.*s'; set it to \"SingleNode\"",
		     spec_clip(s, SPEC_NAME_SHOWN), s);
}

/* Workers with single-node settings: accepted by the server, but Spark runs
 * on the driver alone and the workers idle. Not fatal. */
static void rule_multi_node(struct spec_report *v, const cJSON *root, const char *why)
{
	const char *s;

	s = get_str(get(root, "spark_conf"), "spark.databricks.cluster.profile");
	if (s && !strcmp(s, "singleNode"))
		spec_warn(v, "%s but 'spark_conf[\"spark.databricks.cluster.profile\"]' is \"singleNode\"; remove it or the workers sit idle",
		      why);
	s = get_str(get(root, "spark_conf"), "spark.master");
	if (s && !strncmp(s, "local[", 6))
		spec_warn(v, "%s but 'spark_conf[\"spark.master\"]' is '%.*s'; remove it or the workers sit idle",
		      why, spec_clip(s, SPEC_NAME_SHOWN), s);
}

static void rule_workers(struct spec_report *v, const cJSON *root)
{
	const cJSON *nw = get(root, "num_workers"), *as = get(root, "autoscale");
	const cJSON *single = get(root, "is_single_node");
	const char *kind = get_str(root, "kind");
	int n;

	/* kind CLASSIC_PREVIEW + is_single_node: the server fills in the
	 * single-node settings and the worker count itself */
	if (cJSON_IsTrue(single)) {
		if (!kind || strcmp(kind, "CLASSIC_PREVIEW"))
			spec_error(v, "'is_single_node' needs \"kind\": \"CLASSIC_PREVIEW\"; add it, or remove is_single_node and use num_workers 0");
		if (nw && as)
			spec_error(v, "'num_workers' and 'autoscale' are both set; keep only one");
		return;
	}
	if (nw && as)
		spec_error(v, "'num_workers' and 'autoscale' are both set; keep only one");
	else if (!nw && !as)
		spec_error(v, "neither 'num_workers' nor 'autoscale' is set; add one (num_workers 0 for a single node)");
	if (as) {
		rule_autoscale(v, as);
		rule_multi_node(v, root, "'autoscale' is set");
	}
	if (!int32_of(nw, &n))
		return;
	if (n < 0)
		spec_error(v, "'num_workers' is %d; use 0 (single node) or more", n);
	else if (n == 0 && !as)
		rule_single_node(v, root);
	else if (n > 0)
		rule_multi_node(v, root, "'num_workers' is above 0");
}

static void rule_ranges(struct spec_report *v, const cJSON *root)
{
	const cJSON *az = get(root, "azure_attributes"), *it;
	const char *tok = get_str(root, "idempotency_token");
	size_t n;
	int m;

	if (int32_of(get(root, "autotermination_minutes"), &m) && m != 0 &&
	    (m < AUTOTERMINATION_MIN || m > AUTOTERMINATION_MAX))
		spec_error(v, "'autotermination_minutes' is %d; use 0 (never) or %d to %d", m,
		     AUTOTERMINATION_MIN, AUTOTERMINATION_MAX);
	if (tok) {
		n = strlen(tok);
		if (n == 0 || n > DBR_IDEMPOTENCY_TOKEN_MAX)
			spec_error(v, "'idempotency_token' is %zu characters long; use 1 to %d", n,
			     DBR_IDEMPOTENCY_TOKEN_MAX);
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)tok[i] <= 0x20 || (unsigned char)tok[i] >= 0x7f) {
				spec_error(v, "'idempotency_token' has a space, control or non-ASCII character; use printable ASCII");
				break;
			}
	}
	if (!cJSON_IsObject(az))
		return;
	it = get(az, "availability");
	if (it && !cJSON_IsString(it))
		spec_error(v, "'azure_attributes.availability' must be a string, not %s", kind_of(it));
	else if (it)
		check_enum(v, "azure_attributes.availability", it->valuestring, azure_availability);
	it = get(az, "first_on_demand");
	if (it)
		check_int(v, "azure_attributes.first_on_demand", it, NULL);
	it = get(az, "spot_bid_max_price");
	if (it && !cJSON_IsNumber(it))
		spec_error(v, "'azure_attributes.spot_bid_max_price' must be a number, not %s", kind_of(it));
}

void spec_validate_object(struct spec_report *v, const cJSON *root)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, root) {
		const struct spec_field *f = spec_field_find(it->string);

		if (f)
			check_type(v, f, it);
		else
			spec_warn(v, "unknown field: %.*s", spec_clip(it->string, SPEC_NAME_SHOWN),
				  it->string);
	}
	rule_required(v, root);
	rule_workers(v, root);
	rule_ranges(v, root);
}

int spec_report_finish(const struct spec_report *v, struct dbr_err *err)
{
	if (!v->errors)
		return 0;
	if (v->omitted)
		return dbr_err_set(err, DBR_E_INVAL, "%s\n(and %d more error%s)", v->msg, v->omitted,
				   v->omitted == 1 ? "" : "s");
	return dbr_err_set(err, DBR_E_INVAL, "%s", v->msg);
}

int dbr_cluster_spec_validate(const struct dbr_cluster_spec *s, dbr_spec_warn_fn warn,
			      void *warn_arg, struct dbr_err *err)
{
	struct spec_report v;

	if (!s || !cJSON_IsObject(s->root))
		return dbr_err_set(err, DBR_E_INVAL, "no spec to validate (a bug)");
	memset(&v, 0, sizeof(v));
	v.warn = warn;
	v.warn_arg = warn_arg;
	spec_validate_object(&v, s->root);
	return spec_report_finish(&v, err);
}
