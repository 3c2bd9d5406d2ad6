/* lease.acquire's parameters read into a gw_spec; see acquire-spec.h. */
#include <stdlib.h>
#include <string.h>

#include "acquire-spec.h"
#include "base64.h"
#include "daemon.h"
#include "lease.h"
#include "params.h"
#include "pool.h"
#include "xmalloc.h"

void
spec_parts_free(struct spec_parts *p)
{
	int	i;

	for (i = 0; i < p->nfiledata; i++)
		free(p->filedata[i]);
	free(p->filedata);
	free(p->files);
	free(p->args);
	free(p->tags);
	free(p->usertags);
	free(p->env);
	free(p->secrets);
	free(p->instance_tag);
	free(p->req_tag);
	free(p->pool_tag);
	free(p->merged_env);
	free(p->merged_files);
}

static int
parse_env(struct rpc_req *req, struct spec_parts *p)
{
	json_t		*env = json_object_get(req->params, "env"), *v;
	const char	*k;
	int		 n = 0;

	if (env == NULL || json_is_null(env))
		return 0;
	if (!json_is_object(env)) {
		rpc_fail(req, RPC_ERR_INVALID_PARAMS, NULL,
		    "parameter \"env\" must be an object of strings");
		return -1;
	}
	p->env = xcalloc(json_object_size(env) + 1, sizeof *p->env);
	json_object_foreach(env, k, v) {
		if (!json_is_string(v) || *k == '\0' || strchr(k, '=')) {
			rpc_fail(req, RPC_ERR_INVALID_PARAMS, NULL, "env: "
			    "\"%.64s\" must be a name with a string value", k);
			return -1;
		}
		p->env[n++] = (struct gw_kv){ k, json_string_value(v) };
	}
	p->spec.env = p->env;
	p->spec.nenv = n;
	return 0;
}

static int
parse_files(struct rpc_req *req, struct spec_parts *p)
{
	json_t		*files = json_object_get(req->params, "files"), *f;
	const char	*path, *data;
	size_t		 i, len;
	int		 n = 0;

	if (files == NULL || json_is_null(files))
		return 0;
	if (!json_is_array(files)) {
		rpc_fail(req, RPC_ERR_INVALID_PARAMS, NULL, "parameter "
		    "\"files\" must be an array of {path, data_b64}");
		return -1;
	}
	p->files = xcalloc(json_array_size(files) + 1, sizeof *p->files);
	p->filedata = xcalloc(json_array_size(files) + 1, sizeof *p->filedata);
	json_array_foreach(files, i, f) {
		if (json_unpack(f, "{s:s, s:s !}", "path", &path, "data_b64",
		    &data) == -1 || *path == '\0' ||
		    b64_decode(data, strlen(data), &p->filedata[i], &len) == -1) {
			rpc_fail(req, RPC_ERR_INVALID_PARAMS, NULL, "files[%zu]:"
			    " expected {\"path\": …, \"data_b64\": …} with "
			    "valid base64", i);
			return -1;
		}
		p->nfiledata = (int)i + 1;
		/* Mounted at Start: absolute paths; see spec_files_later. */
		if (*path == '/')
			p->files[n++] = (struct gw_file){ path, p->filedata[i],
			    len };
	}
	p->spec.files = p->files;
	p->spec.nfiles = n;
	return 0;
}

json_t *
spec_files_later(struct rpc_req *req)
{
	json_t	*files = json_object_get(req->params, "files"), *f, *later;
	size_t	 i;

	if (!json_is_array(files))
		return NULL;
	later = json_array();
	json_array_foreach(files, i, f)
		if (*json_string_value(json_object_get(f, "path")) != '/')
			json_array_append(later, f);
	if (json_array_size(later) == 0) {
		json_decref(later);
		return NULL;
	}
	return later;
}

static int
parse_secrets(struct rpc_req *req, struct spec_parts *p)
{
	json_t		*sec = json_object_get(req->params, "secrets"), *s;
	struct gw_secret *g;
	size_t		 i;

	if (sec == NULL || json_is_null(sec))
		return 0;
	if (!json_is_array(sec)) {
		rpc_fail(req, RPC_ERR_INVALID_PARAMS, NULL, "parameter "
		    "\"secrets\" must be an array");
		return -1;
	}
	p->secrets = xcalloc(json_array_size(sec) + 1, sizeof *p->secrets);
	json_array_foreach(sec, i, s) {
		g = &p->secrets[i];
		g->path = g->field = g->env_var = "";
		if (json_unpack(s, "{s:s, s?s, s?s, s?s !}", "store", &g->store,
		    "path", &g->path, "field", &g->field, "env_var",
		    &g->env_var) == -1) {
			rpc_fail(req, RPC_ERR_INVALID_PARAMS, NULL, "secrets[%zu]"
			    ": expected {\"store\", \"path\", \"field\", "
			    "\"env_var\"} strings", i);
			return -1;
		}
		p->spec.nsecrets = (int)i + 1;
	}
	p->spec.secrets = p->secrets;
	return 0;
}

/* Our tags first (for reconciliation), then the pool's, the caller's. */
void
spec_build_tags(struct daemon *d, struct lease *l, struct spec_parts *p, int nuser,
    struct pool *pool)
{
	const struct gw_spec	*ps = pool ? pool_gw_spec(pool) : NULL;
	int			 i, n = 0, npool = ps ? ps->ntags : 0;

	p->instance_tag = xasprintf("sandboxd-instance:%s", d->instance_id);
	p->req_tag = xasprintf("sandboxd-req:%s", l->id);
	p->pool_tag = pool ? xasprintf("sandboxd-pool:%s", pool_name(pool)) :
	    NULL;
	p->tags = xcalloc(nuser + npool + 5, sizeof *p->tags);
	p->tags[n++] = "sandboxd";
	p->tags[n++] = p->instance_tag;
	p->tags[n++] = p->req_tag;
	if (p->pool_tag != NULL)
		p->tags[n++] = p->pool_tag;
	for (i = 0; i < npool; i++)
		p->tags[n++] = ps->tags[i];
	for (i = 0; i < nuser; i++)
		p->tags[n++] = p->usertags[i];
	p->spec.tags = p->tags;
	p->spec.ntags = n;
	p->spec.request_tag = p->req_tag;
	p->spec.instance_tag = p->instance_tag;
}

/* The caller's tags go on the lease whatever the sandbox carries. */
void
spec_lease_tags(struct lease *l, struct spec_parts *p, int nuser)
{
	int	i;

	for (i = 0; i < nuser; i++)
		json_array_append_new(l->tags, json_string(p->usertags[i]));
}

const char *
spec_reserved_tag(const char *const *tags, int n)
{
	int	i;

	for (i = 0; i < n; i++) {
		if (strncmp(tags[i], "sandboxd", 8) == 0)
			return tags[i];
	}
	return NULL;
}

int
spec_parse(struct rpc_req *req, struct spec_parts *p, int *nusertags)
{
	struct gw_spec	*s = &p->spec;
	const char	*gpu_type = NULL, *tag;
	json_t		*later;
	int64_t		 gpus;

	if (params_string(req, "image", false, &s->image) == -1 ||
	    params_string(req, "cpu", false, &s->cpu) == -1 ||
	    params_string(req, "memory", false, &s->memory) == -1 ||
	    params_int(req, "gpu_count", 0, 1024, 0, &gpus) == -1 ||
	    params_string(req, "gpu_type", false, &gpu_type) == -1 ||
	    params_string(req, "egress", false, &s->egress) == -1 ||
	    params_strings(req, "tags", false, &p->usertags, nusertags) == -1 ||
	    params_strings(req, "command", false, &p->args, &s->nargs) == -1 ||
	    parse_env(req, p) == -1 || parse_files(req, p) == -1 ||
	    parse_secrets(req, p) == -1)
		return -1;
	if ((tag = spec_reserved_tag(p->usertags, *nusertags)) != NULL) {
		rpc_fail(req, RPC_ERR_INVALID_PARAMS, NULL, "tag \"%.64s\": "
		    "tags starting with \"sandboxd\" are reserved for the "
		    "daemon's own", tag);
		return -1;
	}
	s->gpu_count = gpus;
	s->gpu_type = gpu_type;
	if (p->args != NULL && s->nargs == 0) {
		rpc_fail(req, RPC_ERR_INVALID_PARAMS, NULL,
		    "parameter \"command\" must not be empty");
		return -1;
	}
	if (s->nargs > 0) {		/* job: argv[0] is the command */
		s->command = p->args[0];
		s->args = p->args + 1;
		s->nargs--;
		if ((later = spec_files_later(req)) != NULL) {
			json_decref(later);
			rpc_fail(req, RPC_ERR_INVALID_PARAMS, NULL, "a job's "
			    "files must be in place before its command runs: "
			    "give them absolute paths");
			return -1;
		}
	}
	return 0;
}

/* Members of the request that a pool's fixed spec cannot honour. */
const char *
spec_pool_conflict(struct rpc_req *req)
{
	static const char *const fixed[] = {
		"image", "cpu", "memory", "gpu_count", "gpu_type", "egress",
		"secrets", "command", NULL
	};
	const char *const	*k;

	for (k = fixed; *k != NULL; k++) {
		if (json_object_get(req->params, *k) != NULL)
			return *k;
	}
	return NULL;
}

/* The pool's spec with the caller's env laid over the pool's. */
void
spec_from_pool(struct spec_parts *p, struct pool *pool)
{
	const struct gw_spec	*ps = pool_gw_spec(pool);
	const struct gw_kv	*env = p->spec.env;
	int			 nenv = p->spec.nenv, i, j, n = 0, n_files;

	p->merged_env = xcalloc((size_t)(ps->nenv + nenv) + 1,
	    sizeof *p->merged_env);
	for (i = 0; i < ps->nenv; i++) {
		for (j = 0; j < nenv; j++)
			if (strcmp(env[j].key, ps->env[i].key) == 0)
				break;
		if (j == nenv)
			p->merged_env[n++] = ps->env[i];
	}
	for (j = 0; j < nenv; j++)
		p->merged_env[n++] = env[j];
	p->merged_files = xcalloc((size_t)(ps->nfiles + p->spec.nfiles) + 1,
	    sizeof *p->merged_files);
	for (i = 0; i < ps->nfiles; i++)
		p->merged_files[i] = ps->files[i];
	for (j = 0; j < p->spec.nfiles; j++)
		p->merged_files[i + j] = p->spec.files[j];
	n_files = i + j;
	p->spec = *ps;
	p->spec.env = p->merged_env;
	p->spec.nenv = n;
	p->spec.files = p->merged_files;
	p->spec.nfiles = n_files;
}
