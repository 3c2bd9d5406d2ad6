/*
 * The test-gw-live-*.c programs' shared set-up: a fake gateway on a unix
 * socket (started once per program by live_group_setup) and, on the
 * client side, a libevent loop and recorders for the gateway client's
 * callbacks.  Each test gets a fresh loop and fresh counters (live_setup).
 */
#ifndef TESTS_UNIT_HELPERS_GW_LIVE_H
#define TESTS_UNIT_HELPERS_GW_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/gw-internal.h"

#define API_KEY	"test-key"

/* The fake gateway. */
extern char		 sock_path[108], target[128];

/* The headers the last call brought to the gateway. */
struct seen {
	char	 key[64], entity[64], project[64], auth[64];
};

int	 live_group_setup(void **);
int	 live_group_teardown(void **);
int	 counted(const char *);
void	 seen_headers(struct seen *);

/* The client side. */
struct res {
	int		 n;		/* callbacks so far */
	struct gw_error	 err;		/* copy, message duplicated */
	bool		 failed;
	struct gw_sandbox sb;
	char		 id[64];
	unsigned char	*data;
	size_t		 len;
	int		 exit_code;
	char		 order[256];	/* stream events: R O E D */
	size_t		 norder;
};

extern struct event_base *base;

int	 live_setup(void **);
int	 live_teardown(void **);
struct gw *client(const char *, int, int64_t);
void	 run_until(const int *, int);
void	 run_for(int64_t);
void	 res_error(struct res *, const struct gw_error *);
void	 res_clear(struct res *);
void	 on_sandbox(void *, const struct gw_error *, const struct gw_sandbox *);
void	 on_done(void *, const struct gw_error *);
void	 on_bytes(void *, const struct gw_error *, const unsigned char *,
	     size_t);
void	 on_list(void *, const struct gw_error *, const struct gw_sandbox *,
	     size_t);
void	 on_exec(void *, const struct gw_error *, const struct gw_exec_result *);

#endif
