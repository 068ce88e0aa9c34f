/* dbroker-layer: api */
/* Cluster specifications for clusters/create: the default template, JSON
 * input, flag overrides and client-side validation, so that a bad spec never
 * costs a request.
 */
#ifndef DBROKER_CLUSTER_SPEC_H
#define DBROKER_CLUSTER_SPEC_H

#include <stddef.h>

#include "dbroker/errors.h"
#include "dbroker/export.h"

#ifdef __cplusplus
extern "C" {
#endif

struct dbr_cluster_spec;

/* Largest spec accepted. */
#define DBR_CLUSTER_SPEC_MAX (1024 * 1024)

/* Longest idempotency token Databricks accepts. */
#define DBR_IDEMPOTENCY_TOKEN_MAX 64

/* Called once per warning (e.g. "unknown field: foo"); arg is the caller's. */
typedef void (*dbr_spec_warn_fn)(void *arg, const char *message);

/* The default template: the single-node cluster of the project's seed notes
 * (spark_version 10.4.x-scala2.12, Standard_DS3_v2, num_workers 0, singleNode
 * spark_conf and ResourceClass tag, ON_DEMAND_AZURE, autotermination 10,
 * elastic disk, STANDARD runtime). *out is owned by the caller.
 * Returns 0 or DBR_E_NOMEM. */
DBR_API int dbr_cluster_spec_new_default(struct dbr_cluster_spec **out);

/* Parse JSON text (len bytes; no NUL terminator needed). origin names the
 * input in messages ("spec.json", "stdin", "--json"). Malformed JSON
 * (strict RFC 8259): DBR_E_INVAL with "origin:LINE:COLUMN: what to fix"
 * (1-based, columns in bytes) in err, then the offending line (at most 40
 * bytes of it) and a caret line. Also DBR_E_INVAL: empty input, a NUL byte,
 * a top level that is not an object, a field given twice at any depth
 * (duplicate field 'spark_conf["spark.master"]'). Larger than
 * DBR_CLUSTER_SPEC_MAX: DBR_E_TOO_LARGE. Field values are not checked
 * here: see dbr_cluster_spec_validate. */
DBR_API int dbr_cluster_spec_parse(const char *json, size_t len,
				   const char *origin,
				   struct dbr_cluster_spec **out,
				   struct dbr_err *err);

DBR_API void dbr_cluster_spec_free(struct dbr_cluster_spec *s);

/* Overrides from command-line flags. value is the flag's text; it is
 * converted to the field's JSON type (string, integer, boolean) and
 * checked (integers strictly parsed: digits with an optional '-', int32
 * range; booleans "true" or "false"; strings valid UTF-8; enum values are
 * left to validate). field is a create-body field name
 * ("cluster_name", "num_workers", "spark_version", "node_type_id",
 * "autotermination_minutes", "instance_pool_id", "policy_id",
 * "runtime_engine", "data_security_mode", ...); map, list and object fields
 * are refused with a hint to use --json. Setting num_workers removes
 * autoscale; a value above 0 also removes the single-node settings
 * (spark_conf profile singleNode, spark.master local[...], custom_tags
 * ResourceClass SingleNode), which would leave the workers idle. An
 * existing field keeps its place in the JSON. Returns 0, DBR_E_INVAL (bad
 * value or unknown field; the spec is unchanged), DBR_E_NOMEM. */
DBR_API int dbr_cluster_spec_set(struct dbr_cluster_spec *s, const char *field,
				 const char *value, struct dbr_err *err);

/* Remove a top-level field if present (e.g. node_type_id when an instance
 * pool supplies the node type). Returns 0 or DBR_E_INVAL. */
DBR_API int dbr_cluster_spec_unset(struct dbr_cluster_spec *s, const char *field);

/* autoscale {min_workers, max_workers}; removes num_workers and the
 * single-node settings (see dbr_cluster_spec_set). Returns 0, DBR_E_INVAL
 * (min_workers < 0 or max_workers <= min_workers; the spec is unchanged),
 * DBR_E_NOMEM. */
DBR_API int dbr_cluster_spec_set_autoscale(struct dbr_cluster_spec *s, int min_workers,
					   int max_workers, struct dbr_err *err);

/* Validate before any request: spark_version required; node_type_id unless
 * instance_pool_id or policy_id; exactly one of num_workers / autoscale with
 * max > min >= 0; num_workers 0 must be a consistent single-node spec
 * (spark_conf profile singleNode, spark.master local[...], custom_tags
 * ResourceClass SingleNode); enum values; JSON types of every known field;
 * autotermination_minutes 0 or 10..10000; custom_tags <= 45; ssh keys <= 10;
 * idempotency_token <= 64 chars. With kind CLASSIC_PREVIEW and
 * is_single_node true the server supplies the worker count and single-node
 * settings, so those two rules are skipped. Unknown top-level fields
 * ("unknown field: X") and workers alongside single-node settings are
 * warned through warn (may be NULL), not fatal. Every error found is listed
 * in err, one per line naming the field path (autoscale.max_workers,
 * spark_conf["spark.master"]) and what to do; lines that do not fit are
 * counted in a last "(and N more errors)" line. Returns 0 or DBR_E_INVAL. */
DBR_API int dbr_cluster_spec_validate(const struct dbr_cluster_spec *s,
				      dbr_spec_warn_fn warn, void *warn_arg,
				      struct dbr_err *err);

/* Set idempotency_token: token if non-NULL (checked: 1..64 printable ASCII
 * characters, no spaces), else keep one already in the spec (checked the
 * same way: a bad one is DBR_E_INVAL, never silently replaced), else
 * generate a random one (32 lowercase hex characters from the OpenSSL RNG).
 * Returns 0, DBR_E_INVAL, DBR_E_NOMEM, DBR_E_INTERNAL (RNG failure). */
DBR_API int dbr_cluster_spec_ensure_idempotency(struct dbr_cluster_spec *s,
						const char *token,
						struct dbr_err *err);

/* The spec's idempotency token, or NULL. Owned by the spec; valid until the
 * spec is changed or freed. */
DBR_API const char *dbr_cluster_spec_idempotency(const struct dbr_cluster_spec *s);

/* The spec's cluster_name, or NULL. Owned by the spec; valid until the
 * spec is changed or freed. */
DBR_API const char *dbr_cluster_spec_name(const struct dbr_cluster_spec *s);

/* Compact JSON text of the spec. *out is malloc'ed (free()); *len may be
 * NULL. Returns 0 or DBR_E_NOMEM. */
DBR_API int dbr_cluster_spec_to_json(const struct dbr_cluster_spec *s, char **out,
				     size_t *len);

#ifdef __cplusplus
}
#endif
#endif
