/*
 * startup SANDBOXD CONF SOCK N: the start-up case.  Starts sandboxd N times
 * with NOTIFY_SOCKET pointing at a datagram socket this program owns, and
 * times from fork to the READY=1 notification, and to the first `status`
 * answered on SOCK.  Each daemon is then stopped with SIGTERM and reaped
 * before the next.  The first start is a warm-up (page cache, instance id)
 * and is not counted.  Prints one JSON line with both summaries and the
 * RSS of each fresh daemon right after its first status.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include "bench.h"
#include "client/rpc-client.h"

#define WAIT_MS		10000

/* The notify socket: a datagram socket at `path`. */
static int
notify_open(const char *path)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	int			 fd;

	if (strlen(path) >= sizeof sun.sun_path)
		fatalx("notify socket path too long: %s", path);
	strcpy(sun.sun_path, path);
	unlink(path);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		fatal("socket");
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) == -1)
		fatal("bind %s", path);
	return fd;
}

/* Forks sandboxd with NOTIFY_SOCKET set and its stderr in `log`. */
static pid_t
spawn(const char *bin, const char *conf, const char *notify, int log)
{
	pid_t	 pid;

	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid == 0) {
		setenv("NOTIFY_SOCKET", notify, 1);
		dup2(log, STDERR_FILENO);
		execl(bin, bin, "-c", conf, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* Waits for a datagram holding READY=1; its time, or fatal on timeout. */
static int64_t
wait_ready(int fd, pid_t pid)
{
	struct pollfd	 pfd = { .fd = fd, .events = POLLIN };
	char		 buf[4096];
	ssize_t		 n;
	int64_t		 until = bench_now_ns() + WAIT_MS * 1000000LL;

	while (bench_now_ns() < until) {
		if (poll(&pfd, 1, 100) <= 0) {
			if (waitpid(pid, NULL, WNOHANG) == pid)
				fatalx("sandboxd exited before READY=1");
			continue;
		}
		if ((n = recv(fd, buf, sizeof buf - 1, 0)) <= 0)
			continue;
		buf[n] = '\0';
		if (strncmp(buf, "READY=1", 7) == 0 ||
		    strstr(buf, "\nREADY=1") != NULL)
			return bench_now_ns();
	}
	fatalx("no READY=1 within %d ms", WAIT_MS);
}

/* Tries status until it answers; its time. */
static int64_t
wait_status(const char *sock)
{
	struct rpc_client_error	 err;
	struct rpc_client	*c;
	json_t			*res, *error;
	int64_t			 until = bench_now_ns() + WAIT_MS * 1000000LL;

	while (bench_now_ns() < until) {
		if ((c = rpc_client_open(sock, &err)) != NULL) {
			if (rpc_client_call(c, "status", NULL, &res, &error,
			    &err) == 0 && res != NULL) {
				json_decref(res);
				rpc_client_close(c);
				return bench_now_ns();
			}
			json_decref(error);
			rpc_client_close(c);
		}
		usleep(200);
	}
	fatalx("status not answered within %d ms", WAIT_MS);
}

/* VmRSS of a process in KiB, or -1. */
static long
rss_kib(pid_t pid)
{
	char	 path[64], line[256];
	FILE	*f;
	long	 kib = -1;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL) {
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	}
	fclose(f);
	return kib;
}

/* Stops a daemon and reaps it, killing it if it lingers. */
static void
stop(pid_t pid)
{
	int	 i;

	kill(pid, SIGTERM);
	for (i = 0; i < 1000; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

int
main(int argc, char **argv)
{
	struct bench_samples	 ready = { 0 }, status = { 0 };
	json_t			*out, *rss;
	char			*notify, *logpath;
	long			 n, i;
	int64_t			 t0, tr, ts;
	pid_t			 pid;
	int			 fd, log;

	log_init("startup", 0);
	if (argc != 5)
		fatalx("usage: startup SANDBOXD CONF SOCK N");
	n = bench_count("N", argv[4]);
	notify = xasprintf("%s.notify", argv[3]);
	logpath = xasprintf("%s.startup.log", argv[3]);
	fd = notify_open(notify);
	if ((log = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	    0644)) == -1)
		fatal("%s", logpath);
	rss = json_array();
	for (i = 0; i <= n; i++) {
		t0 = bench_now_ns();
		pid = spawn(argv[1], argv[2], notify, log);
		tr = wait_ready(fd, pid);
		ts = wait_status(argv[3]);
		if (i > 0) {
			bench_add(&ready, tr - t0);
			bench_add(&status, ts - t0);
			json_array_append_new(rss, json_integer(rss_kib(pid)));
		}
		stop(pid);
	}
	out = json_pack("{s:o, s:o, s:o}", "ready", bench_summary(&ready),
	    "status", bench_summary(&status), "rss_kib", rss);
	bench_print(out);
	close(fd);
	close(log);
	unlink(notify);
	free(notify);
	free(logpath);
	free(ready.v);
	free(status.v);
	return 0;
}
