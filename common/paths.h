/*
 * Default locations of the control socket and the state directory, for
 * root (system daemon) and for a user's own daemon, and mkdir -p.
 */
#ifndef SBX_PATHS_H
#define SBX_PATHS_H

#include <stdbool.h>
#include <sys/types.h>

#define PATHS_SYSTEM_SOCKET	"/run/sandboxd/sandboxd.sock"
#define PATHS_SYSTEM_STATE_DIR	"/var/lib/sandboxd"

/*
 * The socket path (heap string, caller frees).  The daemon: uid 0 →
 * /run/sandboxd/sandboxd.sock, else $XDG_RUNTIME_DIR/sandboxd/sandboxd.sock
 * (/tmp/sandboxd-UID/sandboxd.sock without XDG_RUNTIME_DIR); it ignores
 * SANDBOXD_SOCKET.  Clients: $SANDBOXD_SOCKET when set and non-empty, else
 * the per-user path when a socket exists there, else the system socket.
 */
char	*paths_default_socket(bool for_daemon);

/* The state directory: /var/lib/sandboxd for root, else
 * $XDG_STATE_HOME/sandboxd or ~/.local/state/sandboxd (heap string). */
char	*paths_default_state_dir(void);

/* The same for a given uid (what the two above call; tests use them). */
char	*paths_socket_for_uid(uid_t, bool for_daemon);
char	*paths_state_dir_for_uid(uid_t);

/*
 * Creates `dir` and any missing parents with `mode` (before umask), like
 * mkdir -p.  Existing directories are fine.  Returns 0, or -1 with errno
 * set (ENOTDIR when a component exists and is not a directory).
 */
int	 paths_mkdir_p(const char *dir, mode_t mode);

#endif
