/* dbroker-layer: core */
/* Symbol visibility for libdbroker: the library is built with
 * -fvisibility=hidden and only DBR_API symbols are exported. */
#ifndef DBROKER_EXPORT_H
#define DBROKER_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define DBR_API __attribute__((visibility("default")))
#else
#define DBR_API
#endif

#endif
