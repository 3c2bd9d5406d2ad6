/* Reading one small file of a process under /proc; see procfs.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "procfs.h"

ssize_t
proc_read(pid_t pid, const char *name, char *buf, size_t size)
{
	char	 path[64];
	ssize_t	 n;
	int	 fd;

	if (size == 0)
		return -1;
	snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	while ((n = read(fd, buf, size - 1)) == -1 && errno == EINTR)
		;
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return n;
}
