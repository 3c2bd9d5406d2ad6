/*
 * Logging: five calls and two fatal ones, printf-checked.  Lines go to
 * stderr with a level prefix, or to the journal with structured fields
 * when stderr is connected to it (JOURNAL_STREAM).  errno is preserved.
 * Never pass a secret.
 */
#ifndef SBX_LOG_H
#define SBX_LOG_H

#include <stdarg.h>
#include <stdnoreturn.h>

#define LOG_FMT(a, b) __attribute__((format(printf, a, b)))

/* verbosity: 0 info, 1 debug, 2 trace (each gateway call), -1 warnings. */
void	log_init(const char *progname, int verbosity);
void	log_set_verbosity(int);
int	log_get_verbosity(void);
/* True when fd 2 is the stream JOURNAL_STREAM (dev:ino) names. */
int	log_stderr_is_journal(void);

void	log_warn(const char *, ...) LOG_FMT(1, 2);	/* + strerror(errno) */
void	log_warnx(const char *, ...) LOG_FMT(1, 2);
void	log_info(const char *, ...) LOG_FMT(1, 2);
void	log_debug(const char *, ...) LOG_FMT(1, 2);
void	log_trace(const char *, ...) LOG_FMT(1, 2);	/* verbosity ≥ 2 */
noreturn void fatal(const char *, ...) LOG_FMT(1, 2);	/* + strerror */
noreturn void fatalx(const char *, ...) LOG_FMT(1, 2);

/*
 * An info line with extra journal fields: `fields` is a NULL-terminated
 * list of "KEY=value" strings (LEASE_ID=…, SANDBOX_ID=…).  On stderr the
 * fields are appended as key=value.
 */
void	log_event(const char *const *fields, const char *, ...) LOG_FMT(2, 3);

#endif
