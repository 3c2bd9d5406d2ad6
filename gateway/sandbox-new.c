/*
 * Creating a sandbox from a StartSandboxRequest: its id, its directory
 * (ROOT/<id>/{work,tmp,log}), its environment, its mounted files, and the
 * timers for the start delay and the lifetime.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gw.h"
#include "log.h"
#include "xmalloc.h"

#define BASE_PATH	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:" \
			"/sbin:/bin"

/* True when egress_mode asks for no network at all. */
static bool
egress_none(const char *mode)
{
	static const char *none[] = { "none", "disabled", "deny", "blocked",
	    "off", NULL };
	size_t	 i;

	for (i = 0; none[i] != NULL; i++)
		if (strcasecmp(mode, none[i]) == 0)
			return true;
	return false;
}

/* The base environment plus the request's variables. */
static char **
make_env(struct sandbox *sb, PB(StartSandboxRequest) *req)
{
	char	**v = NULL, **extra = NULL;
	size_t	  n = 0, ne = 0, i;
	const char *home = gw.iso == ISO_BWRAP ? "/work" : sb->workdir;
	const char *tmp = gw.iso == ISO_BWRAP ? "/tmp" : sb->tmpdir;

	strv_push(&v, &n, xstrdup("PATH=" BASE_PATH));
	strv_push(&v, &n, xasprintf("HOME=%s", home));
	strv_push(&v, &n, xasprintf("TMPDIR=%s", tmp));
	strv_push(&v, &n, xstrdup("LANG=C.UTF-8"));
	strv_push(&v, &n, xstrdup("TERM=xterm"));
	strv_push(&v, &n, xasprintf("SANDBOX_ID=%s", sb->id));
	strv_push(&v, &n, xasprintf("SBX_GATEWAY_RUN=%s", gw.run_id));
	sb->env = v;
	for (i = 0; i < req->n_environment_variables; i++)
		strv_push(&extra, &ne, xasprintf("%s=%s",
		    req->environment_variables[i]->key,
		    req->environment_variables[i]->value));
	v = sandbox_exec_env(sb, extra);
	strv_free(sb->env);
	strv_free(extra);
	return v;
}

/* Checks what would make the sandbox unusable; NULL when all is fine. */
static char *
check_request(PB(StartSandboxRequest) *req)
{
	size_t	 i;
	const char *k;

	for (i = 0; i < req->n_environment_variables; i++) {
		k = req->environment_variables[i]->key;
		if (*k == '\0' || strchr(k, '=') != NULL)
			return xasprintf("invalid environment variable name "
			    "\"%s\"", k);
	}
	for (i = 0; i < req->n_tags; i++)
		if (*req->tags[i] == '\0')
			return xstrdup("empty tag");
	if (req->max_lifetime_seconds < 0)
		return xstrdup("max_lifetime_seconds must not be negative");
	return NULL;
}

/* The main command: command + args, or a process that just waits. */
static char **
make_argv(PB(StartSandboxRequest) *req)
{
	char	**v = NULL;
	size_t	  n = 0, i;

	if (*req->command == '\0') {
		strv_push(&v, &n, xstrdup("sleep"));
		strv_push(&v, &n, xstrdup("infinity"));
		return v;
	}
	strv_push(&v, &n, xstrdup(req->command));
	for (i = 0; i < req->n_args; i++)
		strv_push(&v, &n, xstrdup(req->args[i]));
	return v;
}

/* Makes ROOT/<id> with its work and tmp directories. */
static int
make_dirs(struct sandbox *sb, char **err)
{
	int	 saved;

	sb->dir = xasprintf("%s/%s", gw.root, sb->id);
	sb->workdir = xasprintf("%s/work", sb->dir);
	sb->tmpdir = xasprintf("%s/tmp", sb->dir);
	if (mkdir(sb->dir, 0711) == -1 || mkdir(sb->workdir, 0755) == -1 ||
	    mkdir(sb->tmpdir, 01777) == -1 || chmod(sb->tmpdir, 01777) == -1) {
		saved = errno;
		*err = xasprintf("%s: %s", sb->dir, strerror(saved));
		errno = saved;
		return -1;
	}
	return 0;
}

/* Records the request's descriptive fields (see sandbox-record.c). */
static void
record(struct sandbox *sb, PB(StartSandboxRequest) *req, struct call *c)
{
	const char	*v;
	size_t		 len;

	sb->tags = strv_dup(req->tags, req->n_tags);
	sb->ntags = req->n_tags;
	sb->ingress = xstrdup(req->network && *req->network->ingress_mode ?
	    req->network->ingress_mode : "none");
	sb->no_net = req->network != NULL &&
	    egress_none(req->network->egress_mode);
	sb->egress = xstrdup(sb->no_net ? "none" : "internet");
	v = call_meta(c, "x-entity-id", &len);
	sb->entity = v ? xstrndup(v, len) : xstrdup("");
	v = call_meta(c, "x-project-name", &len);
	sb->project = v ? xstrndup(v, len) : xstrdup("");
	sb->record = record_new(sb, req);
}

/*
 * What this host lacks (descriptors, memory, disk) is RESOURCE_EXHAUSTED,
 * for the client to retry later; anything else about our own files is
 * INTERNAL.  Neither is the request's fault.
 */
static grpc_status_code
host_failure(int error)
{
	switch (error) {
	case EMFILE: case ENFILE: case ENOMEM: case ENOSPC: case EDQUOT:
		return GRPC_STATUS_RESOURCE_EXHAUSTED;
	default:
		return GRPC_STATUS_INTERNAL;
	}
}

/*
 * A new sandbox for a Start request, CREATING.  Returns GRPC_STATUS_OK, or
 * the status to answer with and *err (allocated) saying why.
 */
grpc_status_code
sandbox_create(PB(StartSandboxRequest) *req, struct call *c,
    struct sandbox **out, char **err)
{
	grpc_status_code code;
	struct sandbox	*sb;
	char		 sess[13];
	char		*logpath;
	size_t		 i;

	if ((*err = check_request(req)) != NULL)
		return GRPC_STATUS_INVALID_ARGUMENT;
	sb = xcalloc(1, sizeof *sb);
	memcpy(sb->id, "sbx-", 4);
	random_hex(sb->id + 4, 12);
	sb->refs = 1;
	sb->status = ST(CREATING);
	sb->created_ns = now_ns();
	LIST_INIT(&sb->procs);
	LIST_INIT(&sb->waiters);
	if (make_dirs(sb, err) == -1) {
		code = host_failure(errno);
		sandbox_unref(sb);
		return code;
	}
	record(sb, req, c);
	sb->argv = make_argv(req);
	sb->env = make_env(sb, req);
	for (i = 0; i < req->n_mounted_files; i++) {
		if (fs_write(sb, req->mounted_files[i]->mount_path,
		    req->mounted_files[i]->file_content.data,
		    req->mounted_files[i]->file_content.len, err) == -1) {
			fs_rmtree(sb->dir);
			sandbox_unref(sb);
			return GRPC_STATUS_INVALID_ARGUMENT;
		}
	}
	random_hex(sess, 12);
	logpath = xasprintf("%s/log", sb->dir);
	sb->log = logbuf_open(logpath, sess);
	if (sb->log == NULL) {
		code = host_failure(errno);
		*err = xasprintf("%s: %s", logpath, strerror(errno));
		free(logpath);
		fs_rmtree(sb->dir);
		sandbox_unref(sb);
		return code;
	}
	free(logpath);
	sb->lifetime_ms = req->max_lifetime_seconds > 0 ?
	    (int64_t)req->max_lifetime_seconds * 1000 : gw.default_lifetime_ms;
	sb->seq = ++gw.next_seq;
	TAILQ_INSERT_TAIL(&gw.sandboxes, sb, entry);
	sandbox_arm(sb);
	record_log(sb);
	stats_changed();
	*out = sb;
	return GRPC_STATUS_OK;
}
