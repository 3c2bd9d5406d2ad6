/*
 * AddFile and RetrieveFile: files inside a RUNNING sandbox's writable area
 * (see fsops.c).  A path that escapes the sandbox, or any other file error,
 * answers success=false with the reason.
 */
#include <stdlib.h>

#include "gw.h"
#include "log.h"
#include "xmalloc.h"

void
svc_add_file(struct call *c, grpc_byte_buffer *bb)
{
	PB(AddFileSandboxRequest) *req;
	PB(AddFileSandboxResponse) resp = PBINIT(ADD_FILE_SANDBOX_RESPONSE);
	struct sandbox		*sb;
	char			*err = NULL;

	if ((req = call_unpack(c, bb, PBDESC(add_file_sandbox_request))) == NULL)
		return;
	if (sandbox_running_or_err(c, req->sandbox_id, &sb)) {
		if (fs_write(sb, req->filepath, req->file_contents.data,
		    req->file_contents.len, &err) == -1)
			resp.error_message = err;
		else
			resp.success = 1;
		call_reply(c, &resp.base);
		free(err);
	}
	protobuf_c_message_free_unpacked(&req->base, NULL);
}

void
svc_retrieve_file(struct call *c, grpc_byte_buffer *bb)
{
	PB(RetrieveFileSandboxRequest) *req;
	PB(RetrieveFileSandboxResponse) resp =
	    PBINIT(RETRIEVE_FILE_SANDBOX_RESPONSE);
	struct sandbox		*sb;
	char			*err = NULL;
	void			*data = NULL;
	size_t			 len = 0;

	req = call_unpack(c, bb, PBDESC(retrieve_file_sandbox_request));
	if (req == NULL)
		return;
	if (sandbox_running_or_err(c, req->sandbox_id, &sb)) {
		if (fs_read(sb, req->filepath, &data, &len, &err) == -1)
			resp.error_message = err;
		else {
			resp.success = 1;
			resp.file_contents.data = data;
			resp.file_contents.len = len;
		}
		call_reply(c, &resp.base);
		free(err);
		free(data);
	}
	protobuf_c_message_free_unpacked(&req->base, NULL);
}
