/* Functions dbroker code must not call (after git's banned.h): unbounded
 * copies, locale-dependent or error-swallowing parsers. Include last. */
#ifndef DBROKER_BANNED_H
#define DBROKER_BANNED_H

#define BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) BANNED(strcpy)
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) BANNED(strncpy)
#undef strncat
#define strncat(x, y, n) BANNED(strncat)
#undef strtok
#define strtok(x, y) BANNED(strtok)
#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)
#undef gets
#define gets(x) BANNED(gets)
#undef atoi
#define atoi(x) BANNED(atoi)
#undef atol
#define atol(x) BANNED(atol)
/* dbr_lock_pages(), dbr_unlock_pages() (os.h): a sanitizer makes these no-ops */
#undef mlock
#define mlock(x, n) BANNED(mlock)
#undef munlock
#define munlock(x, n) BANNED(munlock)

#endif
