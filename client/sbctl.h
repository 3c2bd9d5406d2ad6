/*
 * sbctl: the command-line client of sandboxd.  Each command is one
 * `const struct sbctl_cmd` (tmux's cmd_entry) defined in its own cmd-*.c
 * file; cmd.c holds the table, finds commands by name or alias and prints
 * usage and help from the same strings.
 */
#ifndef SBX_SBCTL_H
#define SBX_SBCTL_H

#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/* Exit statuses (sysexits-style, see sbctl(1) EXIT STATUS). */
#define SBCTL_EXIT_OK		0
#define SBCTL_EXIT_FAILURE	1
#define SBCTL_EXIT_NOT_FOUND	4	/* no such lease (any more) */
#define SBCTL_EXIT_USAGE	64
#define SBCTL_EXIT_UNAVAILABLE	69	/* sandboxd or the gateway is down */
#define SBCTL_EXIT_TEMPFAIL	75	/* budget, pool or load: try later */
#define SBCTL_EXIT_NOPERM	77
#define SBCTL_EXIT_DEADLINE	124
#define SBCTL_EXIT_NOEXEC	127	/* remote command could not be run */

struct rpc_client;

/* What every command gets: the global options and a lazy connection. */
struct sbctl {
	const char		*socket;	/* control socket path */
	bool			 json;		/* --json */
	struct rpc_client	*rpc;		/* NULL until sbctl_connect() */
};

struct sbctl_cmd {
	const char	*name;
	const char	*alias;		/* NULL when none */
	const char	*usage;		/* arguments, after the name */
	const char	*summary;	/* one line */
	const char	*help;		/* option lines for --help, or NULL */
	bool		 lease_opts;	/* accepts the shared lease options */
	int		 min_args;	/* operands after the options */
	int		 max_args;	/* -1: no limit */
	/* argv[0] is the command name; returns an exit status. */
	int		(*exec)(struct sbctl *, const struct sbctl_cmd *,
			    int argc, char **argv);
};

extern const struct sbctl_cmd cmd_status_entry;
extern const struct sbctl_cmd cmd_lease_entry;
extern const struct sbctl_cmd cmd_exec_entry;
extern const struct sbctl_cmd cmd_run_entry;
extern const struct sbctl_cmd cmd_cp_entry;
extern const struct sbctl_cmd cmd_reclaim_entry;
extern const struct sbctl_cmd cmd_ls_entry;
extern const struct sbctl_cmd cmd_submit_entry;
extern const struct sbctl_cmd cmd_wait_entry;
extern const struct sbctl_cmd cmd_help_entry;
extern const struct sbctl_cmd cmd_doctor_entry;
extern const struct sbctl_cmd cmd_attach_entry;
extern const struct sbctl_cmd cmd_ps_entry;
extern const struct sbctl_cmd cmd_tail_entry;
extern const struct sbctl_cmd cmd_pool_entry;
extern const struct sbctl_cmd cmd_budget_entry;
extern const struct sbctl_cmd cmd_renew_entry;

/* cmd.c: the table, lookup, usage and help. */
extern const struct sbctl_cmd *const sbctl_cmds[];
const struct sbctl_cmd *cmd_find(const char *name);
void	cmd_print_usage(const struct sbctl_cmd *, FILE *);
void	cmd_print_help(const struct sbctl_cmd *, FILE *);
void	cmd_print_overview(FILE *);
int	cmd_usage_error(const struct sbctl_cmd *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
int	cmd_getopt(const struct sbctl_cmd *, int argc, char **argv,
	    const char *shortopts, const struct option *longopts);
int	cmd_check_operands(const struct sbctl_cmd *, int argc, char **argv);
#define CMD_CONTINUE	(-1)
int	cmd_parse_plain(const struct sbctl_cmd *, int argc, char **argv);

/* call.c: one request to sandboxd, errors printed and mapped. */
int	sbctl_connect(struct sbctl *);
void	sbctl_disconnect(struct sbctl *);
int	sbctl_call(struct sbctl *, const char *method, json_t *params,
	    json_t **result);
int	sbctl_call_stoppable(struct sbctl *, const char *method,
	    json_t *params, json_t **result);
int	sbctl_exit_for_error(const json_t *error);
void	sbctl_print_error(const char *prefix, const json_t *error);
void	sbctl_print_json(const json_t *);

/* acquire.c: lease options, lease.acquire and the new lease. */
int	sbctl_lease_option(const struct sbctl_cmd *, json_t *params, int ch,
	    const char *arg);
int	sbctl_parse_lease_args(const struct sbctl_cmd *, int argc,
	    char **argv, json_t *params);
json_t	*sbctl_argv_json(int argc, char **argv);
int	sbctl_acquire(struct sbctl *, json_t *params, json_t **lease);
const char *sbctl_lease_id(const json_t *lease);
void	sbctl_print_lease(const struct sbctl *, const json_t *lease);
int	sbctl_lease_exec(struct sbctl *, const struct sbctl_cmd *, int argc,
	    char **argv);

/* exec.c: exec's and run's options; the buffered exec. */
enum { SBCTL_OPT_TIMEOUT = 0x200, SBCTL_OPT_MAX_OUTPUT, SBCTL_OPT_KEEP,
	SBCTL_OPT_ALL, SBCTL_OPT_BUFFERED, SBCTL_OPT_DETACH, SBCTL_OPT_FROM,
	SBCTL_OPT_SINCE, SBCTL_OPT_TIMESTAMPS, SBCTL_OPT_TTL, SBCTL_OPT_BIND };
struct sbctl_exec_opts {
	bool		 send_stdin;	/* -i: forward stdin */
	bool		 tty;		/* -t: remote terminal, raw local one */
	bool		 buffered;	/* --buffered: the one-reply exec */
	bool		 detach;	/* --detach: start, print the id */
	int64_t		 timeout_ms;	/* -1: sandboxd's default */
	int64_t		 max_output;	/* -1: sandboxd's default */
	volatile sig_atomic_t *interrupt;	/* run's signal flag or NULL */
};
#define SBCTL_EXEC_LONGOPTS						\
	{ "stdin",	no_argument,		NULL, 'i' },		\
	{ "tty",	no_argument,		NULL, 't' },		\
	{ "buffered",	no_argument,		NULL, SBCTL_OPT_BUFFERED }, \
	{ "timeout",	required_argument,	NULL, SBCTL_OPT_TIMEOUT }, \
	{ "max-output",	required_argument,	NULL, SBCTL_OPT_MAX_OUTPUT }
extern const struct option sbctl_exec_longopts[];
extern const char sbctl_exec_help[];
void	sbctl_exec_opts_init(struct sbctl_exec_opts *);
int	sbctl_exec_option(const struct sbctl_cmd *, struct sbctl_exec_opts *,
	    int ch, const char *arg);
int	sbctl_exec_opts_check(const struct sbctl_cmd *,
	    struct sbctl_exec_opts *);
int	sbctl_exec(struct sbctl *, const char *lease, int argc, char **argv,
	    const struct sbctl_exec_opts *);

/* exec-start.c: exec.start, detached or followed. */
int	sbctl_exec_stream(struct sbctl *, const char *lease, int argc,
	    char **argv, const struct sbctl_exec_opts *);

/* exec-stream.c: following an exec's notifications to its exit. */
struct sbctl_follow {
	int		 stdin_fd;	/* forwarded as exec.write; -1: none */
	bool		 tty;		/* forward SIGWINCH as exec.resize */
	bool		 detach_on_stop; /* a signal detaches, not cancels */
};
int	sbctl_exec_follow(struct sbctl *, const char *exec,
	    const struct sbctl_follow *);

/* signals.c: flags set by handlers, acted on by the wait loops. */
extern volatile sig_atomic_t	sbctl_stop_signal;	/* INT, TERM, HUP */
extern volatile sig_atomic_t	sbctl_winch;
void	sbctl_signal_catch(int, void (*)(int));
void	sbctl_catch_stop_signals(void);
void	sbctl_catch_winch(void);
void	sbctl_wait_block(sigset_t *old, sigset_t *wait);

/* tty.c: raw mode for exec -t, restored on every way out. */
int	sbctl_tty_raw(int fd);
void	sbctl_tty_restore(void);
bool	sbctl_tty_size(int fd, unsigned *width, unsigned *height);

/* table.c: aligned tables for ls, ps and pool. */
struct sbctl_table;
struct sbctl_table *sbctl_table_new(int ncols, const char *const *headers);
void	sbctl_table_add(struct sbctl_table *, char **cells);
void	sbctl_table_print(struct sbctl_table *, FILE *);
void	sbctl_table_free(struct sbctl_table *);

/* util.c: small helpers shared by commands. */
bool	sbctl_is_lease_id(const char *);
json_t	*sbctl_duration_json(int64_t ms);
int	sbctl_write_all(int fd, const void *, size_t);
int	sbctl_read_all(int fd, unsigned char **out, size_t *len,
	    volatile sig_atomic_t *stop);
int	sbctl_read_file(const char *path, unsigned char **out, size_t *len);
int	sbctl_write_b64(int fd, const json_t *obj, const char *member,
	    size_t *outlen);
int	sbctl_warnx(int status, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
char	*sbctl_age(double since_epoch);
double	sbctl_now(void);

#endif
