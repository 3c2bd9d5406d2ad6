/* protobuf-c messages ↔ gRPC byte buffers. */
#ifndef SBX_PBUF_H
#define SBX_PBUF_H

#include <grpc/grpc.h>
#include <protobuf-c/protobuf-c.h>

/* Packs a message into a new byte buffer (caller destroys it). */
grpc_byte_buffer	*pbuf_pack(const ProtobufCMessage *);

/*
 * Unpacks a byte buffer into a message of the given type; NULL when the
 * bytes do not decode.  Free with protobuf_c_message_free_unpacked().
 */
ProtobufCMessage	*pbuf_unpack(grpc_byte_buffer *,
			    const ProtobufCMessageDescriptor *);

/* A slice view of a C string, for metadata and method names. */
grpc_slice		 pbuf_slice(const char *);

/* Copies a slice into a NUL-terminated heap string. */
char			*pbuf_slice_strdup(grpc_slice);

#endif
