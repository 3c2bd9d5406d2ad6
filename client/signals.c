/*
 * The signals that cut sbctl's waits short (SIGINT, SIGTERM, SIGHUP) and
 * the window-size change: handlers only set flags, and the wait loops act
 * on them.  A second stop signal ends sbctl at once, after the terminal
 * is given back its settings.
 */
#include <signal.h>
#include <string.h>

#include "sbctl.h"

volatile sig_atomic_t	sbctl_stop_signal;
volatile sig_atomic_t	sbctl_winch;

/* Notes the first stop signal; a second one kills us the default way. */
static void
signals_stop(int sig)
{
	if (sbctl_stop_signal == 0) {
		sbctl_stop_signal = sig;
		return;
	}
	sbctl_tty_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Notes that the terminal's size changed. */
static void
signals_winch(int sig)
{
	(void)sig;
	sbctl_winch = 1;
}

/* Installs `fn` for `sig` without SA_RESTART, so waits return EINTR. */
void
sbctl_signal_catch(int sig, void (*fn)(int))
{
	struct sigaction	 sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = fn;
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

/* Catches SIGINT, SIGTERM and SIGHUP into sbctl_stop_signal. */
void
sbctl_catch_stop_signals(void)
{
	sbctl_signal_catch(SIGINT, signals_stop);
	sbctl_signal_catch(SIGTERM, signals_stop);
	sbctl_signal_catch(SIGHUP, signals_stop);
}

/* Catches SIGWINCH into sbctl_winch. */
void
sbctl_catch_winch(void)
{
	sbctl_signal_catch(SIGWINCH, signals_winch);
}

/*
 * Blocks the signals a wait loop acts on, so they arrive only inside
 * ppoll(): *old is the mask to restore after the loop, *wait the one to
 * wait with (the old mask with them unblocked).
 */
void
sbctl_wait_block(sigset_t *old, sigset_t *wait)
{
	sigset_t	 set;
	int		 s;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGWINCH);
	sigprocmask(SIG_BLOCK, &set, old);
	*wait = *old;
	for (s = 1; s < NSIG; s++)
		if (sigismember(&set, s) == 1)
			sigdelset(wait, s);
}
