/* The control methods, one struct each, defined in the method-*.c files. */
#ifndef SBX_METHODS_H
#define SBX_METHODS_H

#include "rpc.h"

extern const struct rpc_method method_status;
extern const struct rpc_method method_lease_acquire;
extern const struct rpc_method method_lease_list;
extern const struct rpc_method method_lease_get;
extern const struct rpc_method method_lease_release;
extern const struct rpc_method method_lease_wait;
extern const struct rpc_method method_exec;
extern const struct rpc_method method_file_write;
extern const struct rpc_method method_file_read;
extern const struct rpc_method method_pool_list;
extern const struct rpc_method method_pool_resize;
extern const struct rpc_method method_metrics;
extern const struct rpc_method method_gateway_check;

/* Shutdown: acquisitions still starting give up (their sandboxes stop). */
void	lease_acquire_shutdown(void);

#endif
