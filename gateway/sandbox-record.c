/*
 * What a Start asked for that the gateway records and reports but does not
 * act on: the container image (never pulled), the resources, requests and
 * limits (never enforced), the secret-store references (never fetched),
 * the network modes, tags, entity and project.
 * The v1beta2 Get and List have no field for most of it, so it is reported
 * where a person or a test can read it: one JSON object per sandbox in the
 * stats file, and one line in the log when the sandbox is created.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "gw.h"
#include "log.h"
#include "xmalloc.h"

#define GPU_TYPE \
	COREWEAVE__SANDBOX__V1BETA2__GPU_REQUEST__SPEC_GPU_TYPE
#define GPU_MEMORY \
	COREWEAVE__SANDBOX__V1BETA2__GPU_REQUEST__SPEC_GPU_MEMORY_GB

/* A JSON string; protobuf-c does not check UTF-8, jansson does. */
static json_t *
jstr(const char *s)
{
	json_t	*v = json_string(s);

	return v != NULL ? v : json_string("(not UTF-8)");
}

static json_t *
resources(PB(ResourceRequest) *r)
{
	json_t	*o, *g;

	if (r == NULL)
		return json_null();
	o = json_object();
	json_object_set_new(o, "cpu", jstr(r->cpu));
	json_object_set_new(o, "memory", jstr(r->memory));
	if (r->gpu != NULL) {
		g = json_object();
		json_object_set_new(g, "count", json_integer(r->gpu->gpu_count));
		if (r->gpu->spec_case == GPU_TYPE)
			json_object_set_new(g, "type", jstr(r->gpu->gpu_type));
		else if (r->gpu->spec_case == GPU_MEMORY)
			json_object_set_new(g, "memory_gb",
			    json_integer(r->gpu->gpu_memory_gb));
		json_object_set_new(o, "gpu", g);
	}
	return o;
}

/* [{"store", "secrets": [{"path", "field", "env_var"}]}]: names only. */
static json_t *
secret_stores(PB(StartSandboxRequest) *req)
{
	json_t	*a = json_array(), *st, *ms;
	size_t	 i, j;

	for (i = 0; i < req->n_secret_stores; i++) {
		ms = json_array();
		for (j = 0; j < req->secret_stores[i]->n_secrets; j++)
			json_array_append_new(ms, json_pack("{s:o, s:o, s:o}",
			    "path", jstr(req->secret_stores[i]->secrets[j]->path),
			    "field",
			    jstr(req->secret_stores[i]->secrets[j]->field),
			    "env_var",
			    jstr(req->secret_stores[i]->secrets[j]->env_var)));
		st = json_pack("{s:o, s:o}", "store",
		    jstr(req->secret_stores[i]->store_name), "secrets", ms);
		json_array_append_new(a, st);
	}
	return a;
}

/* The record of a new sandbox (its ingress/egress/entity already set). */
json_t *
record_new(struct sandbox *sb, PB(StartSandboxRequest) *req)
{
	PB(NetworkOptions)	*net = req->network;
	json_t			*o = json_object(), *tags = json_array();
	size_t			 i;

	for (i = 0; i < sb->ntags; i++)
		json_array_append_new(tags, jstr(sb->tags[i]));
	json_object_set_new(o, "container_image", jstr(req->container_image));
	json_object_set_new(o, "resources", resources(req->resources));
	json_object_set_new(o, "resource_requests",
	    resources(req->resource_requests));
	json_object_set_new(o, "resource_limits",
	    resources(req->resource_limits));
	json_object_set_new(o, "secret_stores", secret_stores(req));
	json_object_set_new(o, "ingress_mode", jstr(net ? net->ingress_mode :
	    ""));
	json_object_set_new(o, "egress_mode", jstr(net ? net->egress_mode :
	    ""));
	json_object_set_new(o, "applied_ingress_mode", jstr(sb->ingress));
	json_object_set_new(o, "applied_egress_mode", jstr(sb->egress));
	json_object_set_new(o, "tags", tags);
	json_object_set_new(o, "entity", jstr(sb->entity));
	json_object_set_new(o, "project", jstr(sb->project));
	return o;
}

/* "cpu=250m memory=512Mi gpu=1xA100", or "none". */
static void
res_text(json_t *r, char *buf, size_t len)
{
	json_t	*g = json_object_get(r, "gpu");
	int	 n;

	if (!json_is_object(r)) {
		snprintf(buf, len, "none");
		return;
	}
	n = snprintf(buf, len, "cpu=%s memory=%s",
	    json_string_value(json_object_get(r, "cpu")),
	    json_string_value(json_object_get(r, "memory")));
	if (g != NULL && n > 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, " gpu=%lldx%s",
		    (long long)json_integer_value(json_object_get(g, "count")),
		    json_is_string(json_object_get(g, "type")) ?
		    json_string_value(json_object_get(g, "type")) : "any");
}

/* Replaces what could break a log line (a newline in an image name). */
static void
printable(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

/* The record as one line for the log. */
void
record_log(struct sandbox *sb)
{
	json_t	*o = sb->record;
	char	 req[256], lim[256], *img;

	res_text(json_is_object(json_object_get(o, "resources")) ?
	    json_object_get(o, "resources") :
	    json_object_get(o, "resource_requests"), req, sizeof req);
	res_text(json_object_get(o, "resource_limits"), lim, sizeof lim);
	img = xstrdup(json_string_value(json_object_get(o,
	    "container_image")));
	printable(img);
	printable(req);
	printable(lim);
	log_info("sandbox %s created: image \"%s\" (not pulled), resources "
	    "%s, limits %s (not enforced), egress %s", sb->id, img, req, lim,
	    sb->egress);
	free(img);
}

void
record_free(struct sandbox *sb)
{
	json_decref(sb->record);
	sb->record = NULL;
}
