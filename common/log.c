/* Logging to stderr or the journal; see log.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "log.h"

static const char	*log_progname = "sandboxd";
static int		 log_verbosity;
static int		 log_to_journal;

int
log_stderr_is_journal(void)
{
	const char	*e = getenv("JOURNAL_STREAM");
	unsigned long	 dev, ino;
	struct stat	 st;

	if (e == NULL || sscanf(e, "%lu:%lu", &dev, &ino) != 2)
		return 0;
	if (fstat(2, &st) == -1)
		return 0;
	return st.st_dev == dev && st.st_ino == ino;
}

void
log_init(const char *progname, int verbosity)
{
	log_progname = progname;
	log_verbosity = verbosity;
	log_to_journal = log_stderr_is_journal();
}

void
log_set_verbosity(int v)
{
	log_verbosity = v;
}

int
log_get_verbosity(void)
{
	return log_verbosity;
}

static const char *
level_name(int pri)
{
	switch (pri) {
	case LOG_CRIT:		return "fatal";
	case LOG_WARNING:	return "warning";
	case LOG_INFO:		return "info";
	default:		return "debug";
	}
}

/*
 * One line on stderr, written by one write(2): stderr is unbuffered, so
 * piecewise stdio would cost a system call per field on the daemon's loop
 * and let another process's line land in the middle of ours.
 */
static void
log_stderr(int pri, const char *const *fields, const char *msg)
{
	char	 line[4096];
	size_t	 n;
	int	 w;

	w = snprintf(line, sizeof line - 1, "%s: %s: %s", log_progname,
	    level_name(pri), msg);
	n = w < 0 ? 0 : (size_t)w < sizeof line - 1 ? (size_t)w :
	    sizeof line - 2;
	for (; fields != NULL && *fields != NULL && n < sizeof line - 2;
	    fields++) {
		w = snprintf(line + n, sizeof line - 1 - n, " %s", *fields);
		n = w < 0 ? n : n + (size_t)w < sizeof line - 1 ?
		    n + (size_t)w : sizeof line - 2;
	}
	line[n++] = '\n';
	while (write(STDERR_FILENO, line, n) == -1 && errno == EINTR)
		;
}

/* Writes one line; `fields` (may be NULL) become journal fields. */
static void __attribute__((format(printf, 4, 0)))
vlog(int pri, const char *const *fields, int with_errno, const char *fmt,
    va_list ap)
{
	char	 msg[2048];
	int	 saved = errno;
	size_t	 n;

	vsnprintf(msg, sizeof msg, fmt, ap);
	if (with_errno) {
		n = strlen(msg);
		snprintf(msg + n, sizeof msg - n, ": %s", strerror(saved));
	}
	if (log_to_journal) {
		struct iovec	 iov[32];
		char		 m[2100], p[32], id[64];
		int		 i = 0;

		snprintf(m, sizeof m, "MESSAGE=%s", msg);
		snprintf(p, sizeof p, "PRIORITY=%d", pri);
		/* Else journald names us after the unit's executable path. */
		snprintf(id, sizeof id, "SYSLOG_IDENTIFIER=%s", log_progname);
		iov[i++] = (struct iovec){ m, strlen(m) };
		iov[i++] = (struct iovec){ p, strlen(p) };
		iov[i++] = (struct iovec){ id, strlen(id) };
		for (; fields != NULL && *fields != NULL && i < 32; fields++)
			iov[i++] = (struct iovec){ (void *)*fields,
			    strlen(*fields) };
		sd_journal_sendv(iov, i);
	} else
		log_stderr(pri, fields, msg);
	errno = saved;
}

#define LOG_BODY(pri, fields, err) do {		\
	va_list ap;					\
	va_start(ap, fmt);				\
	vlog(pri, fields, err, fmt, ap);		\
	va_end(ap);					\
} while (0)

void
log_warn(const char *fmt, ...)
{
	LOG_BODY(LOG_WARNING, NULL, 1);
}

void
log_warnx(const char *fmt, ...)
{
	LOG_BODY(LOG_WARNING, NULL, 0);
}

void
log_info(const char *fmt, ...)
{
	if (log_verbosity >= 0)
		LOG_BODY(LOG_INFO, NULL, 0);
}

void
log_debug(const char *fmt, ...)
{
	if (log_verbosity > 0)
		LOG_BODY(LOG_DEBUG, NULL, 0);
}

void
log_trace(const char *fmt, ...)
{
	if (log_verbosity > 1)
		LOG_BODY(LOG_DEBUG, NULL, 0);
}

void
log_event(const char *const *fields, const char *fmt, ...)
{
	if (log_verbosity >= 0)
		LOG_BODY(LOG_INFO, fields, 0);
}

void
fatal(const char *fmt, ...)
{
	LOG_BODY(LOG_CRIT, NULL, 1);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	LOG_BODY(LOG_CRIT, NULL, 0);
	exit(1);
}
