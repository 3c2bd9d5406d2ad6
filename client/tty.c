/*
 * The local terminal for `exec -t`: raw mode while the remote command
 * runs, and the saved settings put back on every way out — a normal
 * return (atexit), an error, and a fatal signal (restore, then re-raise).
 * A job-control stop (kill -TSTP, or a background job touching the
 * terminal) gives the shell its terminal back while we are stopped, and
 * raw mode returns on SIGCONT, with a resize in case the window changed.
 */
#include <sys/ioctl.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "sbctl.h"

static struct termios		 tty_saved, tty_raw_attrs;
static int			 tty_fd = -1;
static volatile sig_atomic_t	 tty_is_raw;

/* Signals whose default action ends the process; stop signals excluded
 * (signals.c handles those). */
static const int tty_fatal_signals[] = {
	SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGUSR1, SIGSEGV,
	SIGUSR2, SIGPIPE, SIGALRM, SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF,
	SIGSYS
};

/* Puts the saved settings back; async-signal-safe, harmless twice. */
void
sbctl_tty_restore(void)
{
	if (!tty_is_raw)
		return;
	tty_is_raw = 0;
	tcsetattr(tty_fd, TCSADRAIN, &tty_saved);
}

/* A fatal signal: the terminal first, then the default action. */
static void
tty_fatal(int sig)
{
	int	 saved = errno;

	sbctl_tty_restore();
	signal(sig, SIG_DFL);
	raise(sig);
	errno = saved;
}

static void	tty_stop(int);

/*
 * A stop signal: the shell's settings back, stop the default way, and
 * once continued, raw again and a resize for the wait loop to send.
 */
static void
tty_stop(int sig)
{
	int	 saved = errno, was_raw = tty_is_raw;
	sigset_t set;

	sbctl_tty_restore();
	signal(sig, SIG_DFL);
	/* The handler runs with `sig` blocked: let it through to stop us. */
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);		/* stops here until SIGCONT */
	sbctl_signal_catch(sig, tty_stop);
	/* Continued in the background, tcsetattr stops us again (SIGTTOU)
	 * and is interrupted: try again once we are in front. */
	while (was_raw && !tty_is_raw) {
		if (tcsetattr(tty_fd, TCSADRAIN, &tty_raw_attrs) == 0)
			tty_is_raw = 1;
		else if (errno != EINTR)
			break;
	}
	sbctl_winch = 1;
	errno = saved;
}

/* Restores at exit and on fatal signals (installed once). */
static void
tty_install(void)
{
	static int		 done;
	struct sigaction	 sa, old;
	size_t			 i;

	if (done++)
		return;
	atexit(sbctl_tty_restore);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = tty_fatal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof tty_fatal_signals / sizeof *tty_fatal_signals;
	    i++) {
		/* An ignored signal (SIGPIPE in run) stays ignored. */
		if (sigaction(tty_fatal_signals[i], NULL, &old) == 0 &&
		    old.sa_handler == SIG_IGN)
			continue;
		sigaction(tty_fatal_signals[i], &sa, NULL);
	}
	sbctl_signal_catch(SIGTSTP, tty_stop);
	sbctl_signal_catch(SIGTTIN, tty_stop);
	sbctl_signal_catch(SIGTTOU, tty_stop);
}

/*
 * Puts the terminal on fd in raw mode: bytes pass as typed, Ctrl-C
 * included, for the remote terminal to interpret.  -1 with errno.
 */
int
sbctl_tty_raw(int fd)
{
	struct termios	 raw;

	if (tcgetattr(fd, &tty_saved) == -1)
		return -1;
	tty_fd = fd;
	tty_install();
	raw = tty_saved;
	cfmakeraw(&raw);
	tty_raw_attrs = raw;
	tty_is_raw = 1;
	if (tcsetattr(fd, TCSADRAIN, &raw) == -1) {
		tty_is_raw = 0;
		return -1;
	}
	return 0;
}

/* The size of the terminal on fd; false when it is not one. */
bool
sbctl_tty_size(int fd, unsigned *width, unsigned *height)
{
	struct winsize	 ws;

	if (ioctl(fd, TIOCGWINSZ, &ws) == -1 || ws.ws_col == 0 ||
	    ws.ws_row == 0)
		return false;
	*width = ws.ws_col;
	*height = ws.ws_row;
	return true;
}
