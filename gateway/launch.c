/*
 * Starting a sandbox's main command: under bubblewrap (own mount, pid, ipc
 * and uts namespaces, the host read-only, /work and /tmp bound to the
 * sandbox's private directories) or as a plain process group.
 *
 * Inside bwrap the root is a tmpfs holding a read-only bind of each entry of
 * the host's /, except /proc, /dev (fresh ones), /tmp and /work (the
 * sandbox's own, writable, nosuid and nodev as bwrap binds everything).
 * bwrap runs as root, so without --cap-drop ALL the command would keep
 * every capability and could simply remount the host read-write; with it
 * the command has no capability and no_new_privs, and cannot regain any.
 * The command's stdout and stderr share one pipe, so the log keeps their
 * order.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "gw.h"
#include "log.h"
#include "xmalloc.h"

/* The host's top-level entries as bwrap arguments, once per run. */
static void
host_args(char ***v, size_t *n)
{
	static const char *skip[] = { "proc", "dev", "tmp", "work",
	    "lost+found", NULL };
	char		 path[PATH_MAX], target[PATH_MAX];
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;
	ssize_t		 len;
	size_t		 i;

	if ((d = opendir("/")) == NULL)
		fatal("opendir /");
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		for (i = 0; skip[i] != NULL; i++)
			if (strcmp(de->d_name, skip[i]) == 0)
				break;
		if (skip[i] != NULL)
			continue;
		snprintf(path, sizeof path, "/%s", de->d_name);
		if (lstat(path, &st) == -1)
			continue;
		if (S_ISLNK(st.st_mode)) {
			if ((len = readlink(path, target, sizeof target - 1)) ==
			    -1)
				continue;
			target[len] = '\0';
			strv_push(v, n, xstrdup("--symlink"));
			strv_push(v, n, xstrdup(target));
		} else if (S_ISDIR(st.st_mode)) {
			strv_push(v, n, xstrdup("--ro-bind"));
			strv_push(v, n, xstrdup(path));
		} else
			continue;
		strv_push(v, n, xstrdup(path));
	}
	closedir(d);
}

/* The whole bwrap command line for a sandbox. */
static char **
bwrap_argv(struct sandbox *sb)
{
	char	**v = NULL;
	size_t	  n = 0, i;

	if (gw.host_top == NULL) {
		host_args(&gw.host_top, &n);
		n = 0;
	}
	strv_push(&v, &n, xstrdup("bwrap"));
	for (i = 0; gw.host_top[i] != NULL; i++)
		strv_push(&v, &n, xstrdup(gw.host_top[i]));
	const char *fixed[] = { "--dev", "/dev", "--proc", "/proc",
	    "--bind", sb->tmpdir, "/tmp", "--bind", sb->workdir, "/work",
	    "--chdir", "/work", "--unshare-pid", "--unshare-ipc",
	    "--unshare-uts", "--hostname", sb->id, "--die-with-parent",
	    "--cap-drop", "ALL", "--remount-ro", "/", "--info-fd", "3", NULL };
	for (i = 0; fixed[i] != NULL; i++)
		strv_push(&v, &n, xstrdup(fixed[i]));
	if (sb->no_net)
		strv_push(&v, &n, xstrdup("--unshare-net"));
	strv_push(&v, &n, xstrdup("--"));
	for (i = 0; sb->argv[i] != NULL; i++)
		strv_push(&v, &n, xstrdup(sb->argv[i]));
	return v;
}

/* Main-command output: into the log. */
static void
out_read(struct bufferevent *bev, void *arg)
{
	struct sandbox	*sb = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	size_t		 len;

	while ((len = evbuffer_get_length(in)) > 0) {
		if (len > 65536)
			len = 65536;
		logbuf_append(sb->log, evbuffer_pullup(in, len), len);
		evbuffer_drain(in, len);
	}
}

static void
out_event(struct bufferevent *bev, short what, void *arg)
{
	struct sandbox	*sb = arg;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		out_read(bev, sb);
		sandbox_out_eof(sb);
	}
}

/*
 * bwrap reports the pid before it has built the sandbox's mounts: the
 * sandbox is ready when its /work is our work directory.
 */
static void
ready_poll(evutil_socket_t fd, short what, void *arg)
{
	struct sandbox	*sb = arg;
	struct timeval	 tv = { 0, 5000 };
	struct stat	 a, b;
	char		 path[64];

	if (sb->reaped || sb->status != ST(CREATING))
		return;
	snprintf(path, sizeof path, "/proc/%d/root/work", (int)sb->nspid);
	if (stat(path, &a) == 0 && stat(sb->workdir, &b) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
		sandbox_running(sb);
		return;
	}
	evtimer_add(sb->ready_ev, &tv);
}

/* bwrap's info JSON: {"child-pid": N} once the namespaces exist. */
static void
info_done(struct sandbox *sb)
{
	struct evbuffer	*in = bufferevent_get_input(sb->info);
	size_t		 len = evbuffer_get_length(in);
	char		*s, *p;
	long		 pid = 0;

	/* A copy with a NUL: the input buffer's end may be frozen. */
	s = xmalloc(len + 1);
	evbuffer_copyout(in, s, len);
	s[len] = '\0';
	if ((p = strstr(s, "\"child-pid\"")) != NULL &&
	    (p = strchr(p, ':')) != NULL)
		pid = strtol(p + 1, NULL, 10);
	free(s);
	bufferevent_free(sb->info);
	sb->info = NULL;
	if (pid > 1) {
		sb->nspid = (pid_t)pid;
		sb->ready_ev = evtimer_new(gw.base, ready_poll, sb);
		ready_poll(-1, 0, sb);
	}
}

static void
info_event(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		info_done(arg);
}

/* The object is complete at its closing brace. */
static void
info_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer	*in = bufferevent_get_input(bev);

	if (evbuffer_search(in, "}", 1, NULL).pos != -1)
		info_done(arg);
}

/* Starts the main command, cb told when it exits; -1 and *err if not. */
int
launch_main(struct sandbox *sb, child_cb cb, char **err)
{
	struct spawn_req r = { .envp = sb->env, .info_fd = -1 };
	const char	*e;
	int		 out[2] = { -1, -1 }, info[2] = { -1, -1 }, null;

	if ((null = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1) {
		*err = xasprintf("/dev/null: %s", strerror(errno));
		return -1;
	}
	if (pipe2(out, O_CLOEXEC) == -1 || (gw.iso == ISO_BWRAP &&
	    pipe2(info, O_CLOEXEC) == -1)) {
		*err = xasprintf("pipe: %s", strerror(errno));
		close(null);
		if (out[0] != -1) {	/* info's failed: out is open */
			close(out[0]);
			close(out[1]);
		}
		return -1;
	}
	if (gw.iso == ISO_BWRAP) {
		r.argv = bwrap_argv(sb);
		r.info_fd = info[1];
	} else {
		r.argv = sb->argv;
		r.cwd = sb->workdir;
	}
	r.fd_in = null;
	r.fd_out = r.fd_err = out[1];
	sb->pid = tree_spawn(sb, &r, cb, sb, &e);
	close(null);
	close(out[1]);
	if (info[1] != -1)
		close(info[1]);
	if (r.argv != sb->argv)
		strv_free(r.argv);
	if (sb->pid == -1) {
		*err = xasprintf("could not start: %s", e);
		close(out[0]);
		if (info[0] != -1)
			close(info[0]);
		return -1;
	}
	set_nonblock_cloexec(out[0]);
	sb->out = bufferevent_socket_new(gw.base, out[0], BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(sb->out, out_read, NULL, out_event, sb);
	bufferevent_enable(sb->out, EV_READ);
	if (info[0] != -1) {
		set_nonblock_cloexec(info[0]);
		sb->info = bufferevent_socket_new(gw.base, info[0],
		    BEV_OPT_CLOSE_ON_FREE);
		bufferevent_setcb(sb->info, info_read, NULL, info_event, sb);
		bufferevent_enable(sb->info, EV_READ);
	}
	return 0;
}
