/* Cluster specs for clusters/create (see dbroker/cluster_spec.h): the default
 * template, JSON input, flag overrides and the idempotency token. The rules
 * live in cluster_spec_validate.c, the syntax check in cluster_spec_json.c.
 */
#include "cluster_spec_internal.h"

#include <errno.h>
#include <float.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbroker/bytes.h"

#include "banned.h"

/* The single-node cluster of the project's seed notes, as valid JSON (the
 * notes' payload has a trailing comma). cluster_name is the notes' literal;
 * callers override it. */
static const char default_template[] =
	"{\n"
	"    \"num_workers\": 0,\n"
	"    \"cluster_name\": \"cluster_name\",\n"
	"    \"spark_version\": \"10.4.x-scala2.12\",\n"
	"    \"spark_conf\": {\n"
	"        \"spark.master\": \"local[*, 4]\",\n"
	"        \"spark.databricks.cluster.profile\": \"singleNode\"\n"
	"    },\n"
	"    \"azure_attributes\": {\n"
	"        \"first_on_demand\": 1,\n"
	"        \"availability\": \"ON_DEMAND_AZURE\",\n"
	"        \"spot_bid_max_price\": -1\n"
	"    },\n"
	"    \"node_type_id\": \"Standard_DS3_v2\",\n"
	"    \"custom_tags\": {\n"
	"        \"ResourceClass\": \"SingleNode\"\n"
	"    },\n"
	"    \"spark_env_vars\": {\n"
	"        \"PYSPARK_PYTHON\": \"/databricks/python3/bin/python3\"\n"
	"    },\n"
	"    \"autotermination_minutes\": 10,\n"
	"    \"enable_elastic_disk\": true,\n"
	"    \"runtime_engine\": \"STANDARD\"\n"
	"}\n";

static int spec_wrap(cJSON *root, struct dbr_cluster_spec **out)
{
	struct dbr_cluster_spec *s = calloc(1, sizeof(*s));

	if (!s) {
		cJSON_Delete(root);
		return DBR_E_NOMEM;
	}
	s->root = root;
	*out = s;
	return 0;
}

int dbr_cluster_spec_new_default(struct dbr_cluster_spec **out)
{
	cJSON *root;

	if (!out)
		return DBR_E_INVAL;
	*out = NULL;
	/* the template is valid JSON: a failure here is an allocation */
	root = cJSON_ParseWithLength(default_template, sizeof(default_template) - 1);
	if (!root)
		return DBR_E_NOMEM;
	return spec_wrap(root, out);
}

/* 1 if every number in the tree survives printing: finite (1e999 parses as
 * infinity, which cJSON prints as null) and printed exactly. cJSON prints
 * "%1.15g" when that reads back within an epsilon of the value, else
 * "%1.17g" (exact): a number is lost only in the first case when the
 * 15 digits are not the value itself (9333332533333332). On 0, path names
 * the first offending field ("a.b", "list[2]"). */
static int number_faithful(double d)
{
	char buf[64];
	double t, big;

	if (!isfinite(d))
		return 0;
	snprintf(buf, sizeof(buf), "%1.15g", d);
	t = strtod(buf, NULL);
	big = fabs(t) > fabs(d) ? fabs(t) : fabs(d);
	return t == d || !(fabs(t - d) <= big * DBL_EPSILON);
}

static int numbers_faithful(const cJSON *node, char *path, size_t cap, size_t len)
{
	for (const cJSON *c = node->child; c; c = c->next) {
		size_t n = len;
		int w;

		if (c->string)
			w = snprintf(path + len, cap - len, "%s%s", len ? "." : "", c->string);
		else
			w = snprintf(path + len, cap - len, "[]");
		if (w > 0)
			n = len + (size_t)w < cap ? len + (size_t)w : cap - 1;
		if (cJSON_IsNumber(c)) {
			if (!number_faithful(c->valuedouble))
				return 0;
		} else if ((cJSON_IsObject(c) || cJSON_IsArray(c)) &&
			   !numbers_faithful(c, path, cap, n)) {
			return 0;
		}
		path[len] = '\0';
	}
	return 1;
}

int spec_parse_object(const char *json, size_t len, const char *origin, const char *noun,
		      size_t max, cJSON **out, struct dbr_err *err)
{
	char path[256], where[128];
	cJSON *root;
	int rc;

	/* origin is often a file name: keep it short and printable */
	if (!origin)
		origin = noun;
	snprintf(where, sizeof(where), "%.*s", spec_clip(origin, sizeof(where) - 1), origin);
	spec_sanitize(where);
	origin = where;
	*out = NULL;
	if (!json && len)
		return dbr_err_set(err, DBR_E_INVAL, "%s: no %s text (a bug)", origin, noun);
	if (len > max)
		return dbr_err_set(err, DBR_E_TOO_LARGE,
				   "%s: the %s is %zu bytes, more than the %zu allowed; shrink it",
				   origin, noun, len, max);
	rc = spec_json_check(json ? json : "", len, origin, noun, err);
	if (rc)
		return rc;
	/* the syntax check passed, so cJSON can only fail to allocate */
	root = cJSON_ParseWithLengthOpts(json, len, NULL, 0);
	if (!root)
		return dbr_err_set(err, DBR_E_NOMEM, "%s: out of memory parsing the %s", origin, noun);
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return dbr_err_set(err, DBR_E_INTERNAL, "%s: the %s is not an object", origin, noun);
	}
	rc = spec_find_duplicate(root, path, sizeof(path));
	if (rc) {
		cJSON_Delete(root);
		if (rc < 0)
			return dbr_err_set(err, rc, "%s: out of memory checking the %s", origin, noun);
		/* cJSON would keep both and send both; the server takes either */
		return dbr_err_set(err, DBR_E_INVAL, "%s: duplicate field '%s'; keep only one",
				   origin, path);
	}
	if (!numbers_faithful(root, path, sizeof(path), 0)) {
		cJSON_Delete(root);
		/* what is validated must be what is sent */
		return dbr_err_set(err, DBR_E_INVAL,
				   "%s: the number in '%s' is out of range or has more than 15 "
				   "significant digits, so it could not be sent as written; "
				   "give it with fewer digits", origin, path);
	}
	*out = root;
	return 0;
}

int dbr_cluster_spec_parse(const char *json, size_t len, const char *origin,
			   struct dbr_cluster_spec **out, struct dbr_err *err)
{
	cJSON *root = NULL;
	int rc;

	if (!out)
		return dbr_err_set(err, DBR_E_INVAL, "no place to store the spec (a bug)");
	*out = NULL;
	rc = spec_parse_object(json, len, origin, "spec", DBR_CLUSTER_SPEC_MAX, &root, err);
	if (rc)
		return rc;
	rc = spec_wrap(root, out);
	if (rc)
		return dbr_err_set(err, rc, "out of memory");
	return 0;
}

void dbr_cluster_spec_free(struct dbr_cluster_spec *s)
{
	if (!s)
		return;
	cJSON_Delete(s->root);
	free(s);
}

/* Put item under key, in place when the key exists (keeps field order).
 * Takes item in all cases. */
static int put(cJSON *obj, const char *key, cJSON *item)
{
	if (!item)
		return DBR_E_NOMEM;
	if (cJSON_GetObjectItemCaseSensitive(obj, key)) {
		if (!cJSON_ReplaceItemInObjectCaseSensitive(obj, key, item)) {
			cJSON_Delete(item);
			return DBR_E_NOMEM;
		}
		return 0;
	}
	if (!cJSON_AddItemToObject(obj, key, item)) {
		cJSON_Delete(item);
		return DBR_E_NOMEM;
	}
	return 0;
}

static void drop_entry_if(cJSON *root, const char *map, const char *key, const char *value,
			  int prefix)
{
	cJSON *m = cJSON_GetObjectItemCaseSensitive(root, map);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, key);
	const char *sv = cJSON_GetStringValue(v);

	if (!sv)
		return;
	if (prefix ? !strncmp(sv, value, strlen(value)) : !strcmp(sv, value))
		cJSON_DeleteItemFromObjectCaseSensitive(m, key);
}

/* A cluster with workers: the template's single-node settings would run
 * Spark locally on the driver with the workers idle, and only --json could
 * remove map entries, so going multi-node drops them. */
static void drop_single_node(cJSON *root)
{
	drop_entry_if(root, "spark_conf", "spark.databricks.cluster.profile", "singleNode", 0);
	drop_entry_if(root, "spark_conf", "spark.master", "local[", 1);
	drop_entry_if(root, "custom_tags", "ResourceClass", "SingleNode", 0);
}

/* Strict int32: optional '-', digits only, the whole string, in range (no
 * '+', no whitespace, which strtol would accept). */
static int parse_int32(const char *v, int *out)
{
	char *end;
	long n;

	if (!((*v >= '0' && *v <= '9') || (*v == '-' && v[1] >= '0' && v[1] <= '9')))
		return -1;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || *end || n < INT32_MIN || n > INT32_MAX)
		return -1;
	*out = (int)n;
	return 0;
}

static const char *type_text(enum spec_type t)
{
	switch (t) {
	case SPEC_MAP:
		return "a map";
	case SPEC_STRINGS:
	case SPEC_OBJECTS:
		return "a list";
	default:
		return "an object";
	}
}

int dbr_cluster_spec_unset(struct dbr_cluster_spec *s, const char *field)
{
	if (!s || !field)
		return DBR_E_INVAL;
	cJSON_DeleteItemFromObjectCaseSensitive(s->root, field);
	return 0;
}

int dbr_cluster_spec_set(struct dbr_cluster_spec *s, const char *field, const char *value,
			 struct dbr_err *err)
{
	const struct spec_field *f;
	cJSON *item;
	int n = 0, rc;

	if (!s || !field || !value)
		return dbr_err_set(err, DBR_E_INVAL, "no spec, field or value given (a bug)");
	f = spec_field_find(field);
	if (!f)
		return dbr_err_set(err, DBR_E_INVAL,
				   "'%.*s' is not a cluster field dbroker knows; check the spelling, or pass it with --json",
				   spec_clip(field, SPEC_NAME_SHOWN), field);
	if (!spec_type_settable(f->type))
		return dbr_err_set(err, DBR_E_INVAL,
				   "'%s' is %s and cannot be set from a flag; pass it with --json",
				   f->name, type_text(f->type));
	switch (f->type) {
	case SPEC_INT32:
		if (parse_int32(value, &n))
			return dbr_err_set(err, DBR_E_INVAL,
					   "invalid value '%.*s' for '%s'; give a whole number such as 2",
					   spec_clip(value, SPEC_NAME_SHOWN), value, f->name);
		item = cJSON_CreateNumber(n);
		break;
	case SPEC_BOOL:
		if (strcmp(value, "true") && strcmp(value, "false"))
			return dbr_err_set(err, DBR_E_INVAL,
					   "invalid value '%.*s' for '%s'; give true or false",
					   spec_clip(value, SPEC_NAME_SHOWN), value, f->name);
		item = cJSON_CreateBool(!strcmp(value, "true"));
		break;
	default:
		/* enums are checked by validate, with all the other rules */
		if (!spec_utf8_valid(value, strlen(value)))
			return dbr_err_set(err, DBR_E_INVAL,
					   "the value for '%s' is not valid UTF-8; check the terminal's encoding",
					   f->name);
		item = cJSON_CreateString(value);
		break;
	}
	rc = put(s->root, f->name, item);
	if (rc)
		return dbr_err_set(err, rc, "out of memory setting '%s'", f->name);
	if (!strcmp(f->name, "num_workers")) {
		cJSON_DeleteItemFromObjectCaseSensitive(s->root, "autoscale");
		if (n > 0)
			drop_single_node(s->root);
	}
	return 0;
}

int dbr_cluster_spec_set_autoscale(struct dbr_cluster_spec *s, int min_workers, int max_workers,
				   struct dbr_err *err)
{
	cJSON *a;
	int rc;

	if (!s)
		return dbr_err_set(err, DBR_E_INVAL, "no spec given (a bug)");
	if (min_workers < 0)
		return dbr_err_set(err, DBR_E_INVAL,
				   "autoscale minimum is %d; give 0 or more workers", min_workers);
	if (max_workers <= min_workers)
		return dbr_err_set(err, DBR_E_INVAL,
				   "autoscale maximum (%d) must be greater than the minimum (%d); raise the maximum",
				   max_workers, min_workers);
	a = cJSON_CreateObject();
	if (!a || !cJSON_AddNumberToObject(a, "min_workers", min_workers) ||
	    !cJSON_AddNumberToObject(a, "max_workers", max_workers)) {
		cJSON_Delete(a);
		return dbr_err_set(err, DBR_E_NOMEM, "out of memory setting 'autoscale'");
	}
	rc = put(s->root, "autoscale", a);
	if (rc)
		return dbr_err_set(err, rc, "out of memory setting 'autoscale'");
	cJSON_DeleteItemFromObjectCaseSensitive(s->root, "num_workers");
	drop_single_node(s->root);
	return 0;
}

/* 1..64 printable ASCII characters, no spaces: it is compared byte for
 * byte on the server and ends up in logs. */
int spec_idempotency_check(const char *t, const char *what, struct dbr_err *err)
{
	size_t n = strlen(t);

	if (n == 0)
		return dbr_err_set(err, DBR_E_INVAL, "%s is empty; give 1 to %d characters",
				   what, DBR_IDEMPOTENCY_TOKEN_MAX);
	if (n > DBR_IDEMPOTENCY_TOKEN_MAX)
		return dbr_err_set(err, DBR_E_INVAL,
				   "%s is %zu characters long; Databricks accepts at most %d",
				   what, n, DBR_IDEMPOTENCY_TOKEN_MAX);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)t[i] <= 0x20 || (unsigned char)t[i] >= 0x7f)
			return dbr_err_set(err, DBR_E_INVAL,
					   "%s contains a space, control or non-ASCII character at position %zu; use printable ASCII",
					   what, i + 1);
	return 0;
}

int spec_idempotency_generate(char out[33], struct dbr_err *err)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[16];

	if (dbr_random_bytes(raw, sizeof(raw)))
		return dbr_err_set(err, DBR_E_INTERNAL,
				   "the kernel's random generator failed; retry, or pass an idempotency token");
	for (size_t i = 0; i < sizeof(raw); i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 0x0f];
	}
	out[2 * sizeof(raw)] = '\0';
	return 0;
}

int dbr_cluster_spec_ensure_idempotency(struct dbr_cluster_spec *s, const char *token,
					struct dbr_err *err)
{
	char gen[33];
	const cJSON *have;
	int rc;

	if (!s)
		return dbr_err_set(err, DBR_E_INVAL, "no spec given (a bug)");
	if (token) {
		rc = spec_idempotency_check(token, "the idempotency token", err);
		if (rc)
			return rc;
		rc = put(s->root, "idempotency_token", cJSON_CreateString(token));
		return rc ? dbr_err_set(err, rc, "out of memory setting 'idempotency_token'") : 0;
	}
	have = cJSON_GetObjectItemCaseSensitive(s->root, "idempotency_token");
	if (have) {
		if (!cJSON_IsString(have))
			return dbr_err_set(err, DBR_E_INVAL,
					   "'idempotency_token' in the spec must be a string; fix it, or remove it to get a generated one");
		return spec_idempotency_check(have->valuestring, "'idempotency_token' in the spec",
					      err);
	}
	rc = spec_idempotency_generate(gen, err);
	if (rc)
		return rc;
	rc = put(s->root, "idempotency_token", cJSON_CreateString(gen));
	return rc ? dbr_err_set(err, rc, "out of memory setting 'idempotency_token'") : 0;
}

const char *dbr_cluster_spec_idempotency(const struct dbr_cluster_spec *s)
{
	return s ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s->root,
									  "idempotency_token"))
		 : NULL;
}

const char *dbr_cluster_spec_name(const struct dbr_cluster_spec *s)
{
	return s ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s->root, "cluster_name"))
		 : NULL;
}

int spec_print_object(const cJSON *root, char **out, size_t *len)
{
	char *text;
	size_t n;

	if (len)
		*len = 0;
	*out = NULL;
	/* cJSON's text comes from the wiping hooks (cJSON_free only); the
	 * caller gets a plain malloc copy */
	text = cJSON_PrintUnformatted(root);
	if (!text)
		return DBR_E_NOMEM;
	n = strlen(text);
	*out = malloc(n + 1);
	if (*out)
		memcpy(*out, text, n + 1);
	cJSON_free(text);
	if (!*out)
		return DBR_E_NOMEM;
	if (len)
		*len = n;
	return 0;
}

int dbr_cluster_spec_to_json(const struct dbr_cluster_spec *s, char **out, size_t *len)
{
	if (len)
		*len = 0;
	if (!out)
		return DBR_E_INVAL;
	*out = NULL;
	if (!s)
		return DBR_E_INVAL;
	return spec_print_object(s->root, out, len);
}
