/*
 * coreweave.sandbox.v1beta2: requests built from our structs, replies read
 * back into them.  The one place that knows the API version's messages.
 */
#include <stdlib.h>
#include <string.h>

#include "gw-internal.h"
#include "xmalloc.h"

#define PB(x)	Coreweave__Sandbox__V1beta2__ ## x

void *
gw_arena_alloc(struct gw_arena *a, size_t len)
{
	void	*p = xcalloc(1, len ? len : 1);

	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 16;
		a->v = xreallocarray(a->v, a->cap, sizeof *a->v);
	}
	a->v[a->n++] = p;
	return p;
}

void
gw_arena_free(struct gw_arena *a)
{
	size_t	 i;

	for (i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
	memset(a, 0, sizeof *a);
}

/* Borrowed strings: packing only reads them, NULL is the empty string. */
static char *
str(const char *s)
{
	return (char *)(s != NULL ? s : "");
}

static char **
strv(struct gw_arena *a, const char *const *v, int n)
{
	char	**out = gw_arena_alloc(a, sizeof *out * (size_t)(n > 0 ? n : 1));
	int	  i;

	for (i = 0; i < n; i++)
		out[i] = str(v[i]);
	return out;
}

/* A ResourceRequest when any of cpu, memory, gpu is asked for. */
static PB(ResourceRequest) *
build_resources(struct gw_arena *a, const struct gw_spec *sp)
{
	PB(ResourceRequest)	*r;
	PB(GpuRequest)		*g;

	if (sp->cpu == NULL && sp->memory == NULL && sp->gpu_count <= 0 &&
	    sp->gpu_type == NULL)
		return NULL;
	r = gw_arena_alloc(a, sizeof *r);
	coreweave__sandbox__v1beta2__resource_request__init(r);
	r->cpu = str(sp->cpu);
	r->memory = str(sp->memory);
	if (sp->gpu_count > 0 || sp->gpu_type != NULL) {
		g = gw_arena_alloc(a, sizeof *g);
		coreweave__sandbox__v1beta2__gpu_request__init(g);
		g->gpu_count = sp->gpu_count;
		if (sp->gpu_type != NULL) {
			g->spec_case =
			    COREWEAVE__SANDBOX__V1BETA2__GPU_REQUEST__SPEC_GPU_TYPE;
			g->gpu_type = str(sp->gpu_type);
		}
		r->gpu = g;
	}
	return r;
}

static const char *
build_env(struct gw_arena *a, const struct gw_spec *sp, PB(StartSandboxRequest) *r)
{
	PB(StartSandboxRequest__EnvironmentVariablesEntry) *e;
	int	 i;

	r->environment_variables = gw_arena_alloc(a,
	    sizeof *r->environment_variables * (size_t)(sp->nenv + 1));
	for (i = 0; i < sp->nenv; i++) {
		if (sp->env[i].key == NULL || *sp->env[i].key == '\0' ||
		    strchr(sp->env[i].key, '=') != NULL)
			return "environment variable names must be non-empty "
			    "and without '='";
		e = gw_arena_alloc(a, sizeof *e);
		coreweave__sandbox__v1beta2__start_sandbox_request__environment_variables_entry__init(e);
		e->key = str(sp->env[i].key);
		e->value = str(sp->env[i].value);
		r->environment_variables[i] = e;
	}
	r->n_environment_variables = (size_t)sp->nenv;
	return NULL;
}

static const char *
build_files(struct gw_arena *a, const struct gw_spec *sp, PB(StartSandboxRequest) *r)
{
	PB(MountedFile)	*f;
	int		 i;

	r->mounted_files = gw_arena_alloc(a,
	    sizeof *r->mounted_files * (size_t)(sp->nfiles + 1));
	for (i = 0; i < sp->nfiles; i++) {
		if (sp->files[i].path == NULL || *sp->files[i].path != '/')
			return "mounted file paths must be absolute";
		if (sp->files[i].len > 0 && sp->files[i].data == NULL)
			return "mounted file without its contents";
		f = gw_arena_alloc(a, sizeof *f);
		coreweave__sandbox__v1beta2__mounted_file__init(f);
		f->mount_path = str(sp->files[i].path);
		f->file_content.len = sp->files[i].len;
		f->file_content.data = (uint8_t *)sp->files[i].data;
		r->mounted_files[i] = f;
	}
	r->n_mounted_files = (size_t)sp->nfiles;
	return NULL;
}

/* Secrets travel grouped by store, stores in order of first mention. */
static const char *
build_secrets(struct gw_arena *a, const struct gw_spec *sp,
    PB(StartSandboxRequest) *r)
{
	PB(SecretStoreReference)	*st;
	PB(SecretMapping)		*m;
	int				 i;
	size_t				 k;

	r->secret_stores = gw_arena_alloc(a,
	    sizeof *r->secret_stores * (size_t)(sp->nsecrets + 1));
	for (i = 0; i < sp->nsecrets; i++) {
		const struct gw_secret *s = &sp->secrets[i];

		if (s->store == NULL || *s->store == '\0' || s->path == NULL ||
		    *s->path == '\0')
			return "a secret needs a store and a path";
		for (k = 0; k < r->n_secret_stores; k++)
			if (strcmp(r->secret_stores[k]->store_name,
			    s->store) == 0)
				break;
		if (k == r->n_secret_stores) {
			st = gw_arena_alloc(a, sizeof *st);
			coreweave__sandbox__v1beta2__secret_store_reference__init(st);
			st->store_name = str(s->store);
			st->secrets = gw_arena_alloc(a,
			    sizeof *st->secrets * (size_t)sp->nsecrets);
			r->secret_stores[r->n_secret_stores++] = st;
		}
		st = r->secret_stores[k];
		m = gw_arena_alloc(a, sizeof *m);
		coreweave__sandbox__v1beta2__secret_mapping__init(m);
		m->path = str(s->path);
		m->field = str(s->field);
		m->env_var = str(s->env_var);
		st->secrets[st->n_secrets++] = m;
	}
	return NULL;
}

/* The keep-alive main command of an idle (pool or lease) sandbox. */
static const char *const idle_args[] = { "infinity" };

PB(StartSandboxRequest) *
gw_build_start(struct gw_arena *a, const struct gw_spec *sp, const char **err)
{
	PB(StartSandboxRequest)	*r = gw_arena_alloc(a, sizeof *r);
	PB(NetworkOptions)	*net;

	coreweave__sandbox__v1beta2__start_sandbox_request__init(r);
	if (sp->nargs < 0 || sp->nenv < 0 || sp->ntags < 0 ||
	    sp->nfiles < 0 || sp->nsecrets < 0) {
		*err = "negative count in the sandbox spec";
		return NULL;
	}
	if (sp->command != NULL) {
		r->command = str(sp->command);
		r->args = strv(a, sp->args, sp->nargs);
		r->n_args = (size_t)sp->nargs;
	} else {
		r->command = "sleep";
		r->args = strv(a, idle_args, 1);
		r->n_args = 1;
	}
	r->tags = strv(a, sp->tags, sp->ntags);
	r->n_tags = (size_t)sp->ntags;
	r->container_image = str(sp->image);
	r->resources = build_resources(a, sp);
	if ((*err = build_env(a, sp, r)) != NULL ||
	    (*err = build_files(a, sp, r)) != NULL ||
	    (*err = build_secrets(a, sp, r)) != NULL)
		return NULL;
	if (sp->egress != NULL) {
		net = gw_arena_alloc(a, sizeof *net);
		coreweave__sandbox__v1beta2__network_options__init(net);
		net->egress_mode = str(sp->egress);
		r->network = net;
	}
	r->max_lifetime_seconds = sp->max_lifetime_s;
	return r;
}

PB(ExecStreamRequest) *
gw_build_exec_init(struct gw_arena *a, const struct gw_exec_stream_request *q,
    const char **err)
{
	PB(ExecStreamRequest)		*r = gw_arena_alloc(a, sizeof *r);
	PB(ExecStreamInit)		*in = gw_arena_alloc(a, sizeof *in);
	PB(ExecStreamInit__EnvEntry)	*e;
	int				 i;

	coreweave__sandbox__v1beta2__exec_stream_request__init(r);
	coreweave__sandbox__v1beta2__exec_stream_init__init(in);
	if (q->sandbox_id == NULL || *q->sandbox_id == '\0') {
		*err = "sandbox id is empty";
		return NULL;
	}
	if (q->argc < 1 || q->argv == NULL || q->argv[0] == NULL ||
	    *q->argv[0] == '\0') {
		*err = "command is empty";
		return NULL;
	}
	if (q->nenv < 0) {
		*err = "negative environment count";
		return NULL;
	}
	in->sandbox_id = str(q->sandbox_id);
	in->command = strv(a, q->argv, q->argc);
	in->n_command = (size_t)q->argc;
	in->tty = q->tty;
	in->tty_width = q->tty_width;
	in->tty_height = q->tty_height;
	in->env = gw_arena_alloc(a, sizeof *in->env * (size_t)(q->nenv + 1));
	for (i = 0; i < q->nenv; i++) {
		if (q->env[i].key == NULL || *q->env[i].key == '\0' ||
		    strchr(q->env[i].key, '=') != NULL) {
			*err = "environment variable names must be non-empty "
			    "and without '='";
			return NULL;
		}
		e = gw_arena_alloc(a, sizeof *e);
		coreweave__sandbox__v1beta2__exec_stream_init__env_entry__init(e);
		e->key = str(q->env[i].key);
		e->value = str(q->env[i].value);
		in->env[i] = e;
	}
	in->n_env = (size_t)q->nenv;
	r->request_case = COREWEAVE__SANDBOX__V1BETA2__EXEC_STREAM_REQUEST__REQUEST_INIT;
	r->init = in;
	return r;
}

int64_t
gw_timestamp_ms(const Google__Protobuf__Timestamp *ts)
{
	/* A time past year 9999 (or before 1970) is no time we can use. */
	if (ts == NULL || ts->seconds < 0 || ts->seconds > 253402300799LL)
		return 0;
	return ts->seconds * 1000 + ts->nanos / 1000000;
}

/* Wire status numbers are ours; an unknown one reads as unspecified. */
static enum gw_status
read_status(int v)
{
	switch (v) {
	case GW_STATUS_CREATING: case GW_STATUS_RUNNING:
	case GW_STATUS_COMPLETED: case GW_STATUS_FAILED:
	case GW_STATUS_TERMINATED: case GW_STATUS_PENDING:
	case GW_STATUS_PAUSED: case GW_STATUS_TERMINATING:
		return (enum gw_status)v;
	default:
		return GW_STATUS_UNSPECIFIED;
	}
}

void
gw_read_start(const PB(StartSandboxResponse) *r, struct gw_sandbox *sb)
{
	memset(sb, 0, sizeof *sb);
	sb->id = str(r->sandbox_id);
	sb->status = read_status(r->sandbox_status);
	sb->status_reason = "";
	sb->started_at_ms = gw_timestamp_ms(r->started_at_time);
}

void
gw_read_get(const PB(GetSandboxResponse) *r, struct gw_sandbox *sb)
{
	memset(sb, 0, sizeof *sb);
	sb->id = str(r->sandbox_id);
	sb->status = read_status(r->sandbox_status);
	sb->status_reason = str(r->status_reason);
	sb->has_exit_code = r->_exit_code_case ==
	    COREWEAVE__SANDBOX__V1BETA2__GET_SANDBOX_RESPONSE___EXIT_CODE_EXIT_CODE;
	sb->exit_code = sb->has_exit_code ? r->exit_code : 0;
	sb->started_at_ms = gw_timestamp_ms(r->started_at_time);
}

void
gw_read_info(const PB(SandboxInfo) *r, struct gw_sandbox *sb)
{
	memset(sb, 0, sizeof *sb);
	sb->id = str(r->sandbox_id);
	sb->status = read_status(r->sandbox_status);
	sb->status_reason = "";
	sb->started_at_ms = gw_timestamp_ms(r->started_at_time);
}
