/* Internals of the request module (request.c), for its tests. Internal to
 * libdbroker. */
#ifndef DBROKER_REQUEST_INTERNAL_H
#define DBROKER_REQUEST_INTERNAL_H

#include "dbroker/request.h"

/* Clear the process-wide interrupt flag set by dbr_client_interrupt(). Only
 * for tests, which interrupt one call and then make more: a program that was
 * interrupted is meant to stop. Not async-signal-safe with respect to a
 * concurrent dbr_client_interrupt() (the latter may be lost). */
void dbr_client_interrupt_reset(void);

#endif
