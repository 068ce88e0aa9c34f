/* What built-in providers may see of the host beyond the public services
 * table. Internal to libdbroker. */
#ifndef DBROKER_HOST_INTERNAL_H
#define DBROKER_HOST_INTERNAL_H

struct dbr_host;
struct dbr_config;

/* The configuration the chain was built with. */
const struct dbr_config *dbr_host_config(const struct dbr_host *h);

/* The table every provider receives. */
const struct dbr_host_services *dbr_host_services_table(void);

#endif
