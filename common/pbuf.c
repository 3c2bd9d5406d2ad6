/* protobuf-c messages ↔ gRPC byte buffers; see pbuf.h. */
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer_reader.h>
#include <grpc/slice.h>

#include "pbuf.h"
#include "xmalloc.h"

grpc_byte_buffer *
pbuf_pack(const ProtobufCMessage *msg)
{
	size_t			 len = protobuf_c_message_get_packed_size(msg);
	grpc_slice		 s = grpc_slice_malloc(len);
	grpc_byte_buffer	*bb;

	protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(s));
	bb = grpc_raw_byte_buffer_create(&s, 1);
	grpc_slice_unref(s);
	return bb;
}

ProtobufCMessage *
pbuf_unpack(grpc_byte_buffer *bb, const ProtobufCMessageDescriptor *desc)
{
	grpc_byte_buffer_reader	 r;
	grpc_slice		 s;
	ProtobufCMessage	*msg;

	if (bb == NULL || !grpc_byte_buffer_reader_init(&r, bb))
		return NULL;
	s = grpc_byte_buffer_reader_readall(&r);
	grpc_byte_buffer_reader_destroy(&r);
	msg = protobuf_c_message_unpack(desc, NULL, GRPC_SLICE_LENGTH(s),
	    GRPC_SLICE_START_PTR(s));
	grpc_slice_unref(s);
	return msg;
}

grpc_slice
pbuf_slice(const char *s)
{
	return grpc_slice_from_static_string(s);
}

char *
pbuf_slice_strdup(grpc_slice s)
{
	return xstrndup((const char *)GRPC_SLICE_START_PTR(s),
	    GRPC_SLICE_LENGTH(s));
}
