/* Small helpers the commands share: lease ids, durations, whole-fd I/O. */
#include <sys/stat.h>
#include <sys/time.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "base64.h"
#include "parse.h"
#include "sbctl.h"
#include "xmalloc.h"

#define SBCTL_LEASE_ID_LEN	10	/* "l-" + 8 */

/* True for a lease id: "l-" and 8 characters of [a-z0-9]. */
bool
sbctl_is_lease_id(const char *s)
{
	size_t	 i;

	if (strncmp(s, "l-", 2) != 0 || strlen(s) != SBCTL_LEASE_ID_LEN)
		return false;
	for (i = 2; i < SBCTL_LEASE_ID_LEN; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9')))
			return false;
	}
	return true;
}

/* A duration as the protocol's number of seconds (whole when it is). */
json_t *
sbctl_duration_json(int64_t ms)
{
	if (ms % 1000 == 0)
		return json_integer(ms / 1000);
	return json_real((double)ms / 1000.0);
}

/* Waits until a non-blocking fd (a shared terminal, say) takes bytes. */
static int
sbctl_wait_writable(int fd)
{
	struct pollfd	 p = { .fd = fd, .events = POLLOUT };

	while (poll(&p, 1, -1) == -1) {
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

/* Writes everything, retrying short writes; -1 with errno on failure. */
int
sbctl_write_all(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN && sbctl_wait_writable(fd) == 0)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Reads fd to EOF into a new buffer (caller frees); -1 with errno.  A
 * signal that sets *stop (when given) ends the read with EINTR.
 */
int
sbctl_read_all(int fd, unsigned char **out, size_t *len,
    volatile sig_atomic_t *stop)
{
	unsigned char	*buf = NULL;
	size_t		 have = 0, cap = 0;
	ssize_t		 n;

	for (;;) {
		if (cap - have < 65536) {
			cap = cap == 0 ? 65536 : cap * 2;
			buf = xreallocarray(buf, cap, 1);
		}
		if ((n = read(fd, buf + have, cap - have)) == -1) {
			if (errno == EINTR && (stop == NULL || !*stop))
				continue;
			free(buf);
			return -1;
		}
		if (n == 0)
			break;
		have += (size_t)n;
	}
	*out = buf;
	*len = have;
	return 0;
}

/* Reads a whole file ("-" is stdin); -1 with errno. */
int
sbctl_read_file(const char *path, unsigned char **out, size_t *len)
{
	int	 fd, rv, saved;

	if (strcmp(path, "-") == 0)
		return sbctl_read_all(STDIN_FILENO, out, len, NULL);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	rv = sbctl_read_all(fd, out, len, NULL);
	saved = errno;
	close(fd);
	errno = saved;
	return rv;
}

/*
 * Decodes obj[member] (base64) and writes the bytes to fd.  Returns 0,
 * -1 with errno on a write error, or -2 when the member is missing or not
 * valid base64.  *outlen gets the decoded length.
 */
int
sbctl_write_b64(int fd, const json_t *obj, const char *member, size_t *outlen)
{
	json_t		*v = json_object_get(obj, member);
	unsigned char	*data;
	size_t		 len;
	int		 rv, saved;

	*outlen = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) || b64_decode(json_string_value(v),
	    json_string_length(v), &data, &len) == -1)
		return -2;
	*outlen = len;
	rv = sbctl_write_all(fd, data, len);
	saved = errno;
	free(data);
	errno = saved;
	return rv;
}

/* Prints "sbctl: message" and returns `status`, for one-line failures. */
int
sbctl_warnx(int status, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vwarnx(fmt, ap);
	va_end(ap);
	return status;
}

/* Seconds since the epoch, with the protocol's fractions. */
double
sbctl_now(void)
{
	struct timeval	 tv;

	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* How long ago a protocol timestamp was, as "4m12s" (caller frees). */
char *
sbctl_age(double since_epoch)
{
	char	 buf[64];
	double	 s = sbctl_now() - since_epoch;

	format_duration(buf, sizeof buf, (int64_t)(s < 0 ? 0 : s) * 1000);
	return xstrdup(buf);
}
