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
extern const struct rpc_method method_lease_renew;
extern const struct rpc_method method_budget_get;
extern const struct rpc_method method_metrics;
extern const struct rpc_method method_gateway_check;
extern const struct rpc_method method_exec_start;
extern const struct rpc_method method_exec_write;
extern const struct rpc_method method_exec_close_stdin;
extern const struct rpc_method method_exec_resize;
extern const struct rpc_method method_exec_cancel;
extern const struct rpc_method method_exec_attach;
extern const struct rpc_method method_exec_detach;
extern const struct rpc_method method_exec_list;
extern const struct rpc_method method_tail_start;
extern const struct rpc_method method_tail_stop;

/* Shutdown: acquisitions still starting give up (their sandboxes stop). */
void	lease_acquire_shutdown(void);

#endif
