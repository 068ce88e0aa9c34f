/* Pieces of the configuration file reader that inih cannot do itself
 * (config_line.c). */
#ifndef DBROKER_CONFIG_LINE_H
#define DBROKER_CONFIG_LINE_H

#include <stddef.h>

/* Lines up to this long are accepted (Azure resource ids, long hosts):
 * those longer than inih's compiled-in buffer are split here instead. */
#define CONFIG_LINE_MAX 65536

/* Split a "name = value" (or "name: value") line in place the way inih
 * does: the first '=' or ':' separates, both sides are trimmed, and an
 * inline comment (" ;...") is cut from the value. line has no leading
 * blanks; a trailing newline is ignored. Returns 0 with *name and *value
 * pointing into line, or -1 (no separator, empty name: a syntax error). */
int config_split_line(char *line, char **name, char **value);

/* A value in double quotes ("dapi...") is read without them, as the Go
 * SDK's ini reader does. Sets *start and *len to the value's bytes. */
void config_unquote(const char *value, const char **start, size_t *len);

/* The first comment line (';' or '#' first) of buf that holds something
 * the masker's shape rules take for a token or secret ("# token =
 * dapi..."): a plaintext secret on disk that no key holds. Returns its
 * line number, or 0 (none, or out of memory). */
int config_secret_comment_line(const char *buf, size_t len);

#endif
