/*
 * sbctl [--socket PATH] [--json] [--help] [--version] COMMAND [ARGS]: the
 * global options, then the command found in the table runs with the rest.
 */
#include <err.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paths.h"
#include "rpc-client.h"
#include "sbctl.h"
#include "xmalloc.h"

#ifndef SANDBOXD_VERSION
#define SANDBOXD_VERSION "0.1"
#endif

enum { OPT_SOCKET = 0x100, OPT_JSON };

static const struct option main_options[] = {
	{ "socket",	required_argument,	NULL, OPT_SOCKET },
	{ "json",	no_argument,		NULL, OPT_JSON },
	{ "help",	no_argument,		NULL, 'h' },
	{ "version",	no_argument,		NULL, 'V' },
	{ NULL,		0,			NULL, 0 }
};

/* A global usage error: the message, the overview, status 64. */
static int __attribute__((format(printf, 1, 2)))
main_usage(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vwarnx(fmt, ap);
	va_end(ap);
	fprintf(stderr, "usage: sbctl [--socket PATH] [--json] [--help] "
	    "[--version] COMMAND [ARGS]\n(sbctl help lists the commands)\n");
	return SBCTL_EXIT_USAGE;
}

/* Parses the global options into sb; -1 to go on, else an exit status. */
static int
main_options_parse(struct sbctl *sb, int argc, char **argv, char **socket)
{
	int	 ch;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:hV", main_options,
	    NULL)) != -1) {
		switch (ch) {
		case OPT_SOCKET:
			free(*socket);
			*socket = xstrdup(optarg);
			break;
		case OPT_JSON:
			sb->json = true;
			break;
		case 'h':
			cmd_print_overview(stdout);
			return SBCTL_EXIT_OK;
		case 'V':
			printf("sbctl %s\n", SANDBOXD_VERSION);
			return SBCTL_EXIT_OK;
		case ':':
			return main_usage("option %s needs a value",
			    argv[optind - 1]);
		default:
			if (strncmp(argv[optind - 1], "--", 2) == 0)
				return main_usage("unknown option %s",
				    argv[optind - 1]);
			return main_usage("unknown option -%c", optopt);
		}
	}
	return -1;
}

/* Runs one command with the global options applied; its status is ours. */
int
main(int argc, char **argv)
{
	const struct sbctl_cmd	*cmd;
	struct sbctl		 sb = { 0 };
	char			*socket = NULL;
	int			 rv;

	if ((rv = main_options_parse(&sb, argc, argv, &socket)) != -1) {
		free(socket);
		return rv;
	}
	argc -= optind;
	argv += optind;
	if (argc == 0) {
		free(socket);
		return main_usage("%s", "no command given");
	}
	if ((cmd = cmd_find(argv[0])) == NULL) {
		free(socket);
		return main_usage("unknown command '%s'", argv[0]);
	}
	if (socket == NULL)
		socket = paths_default_socket(false);
	sb.socket = socket;
	rv = cmd->exec(&sb, cmd, argc, argv);
	sbctl_disconnect(&sb);
	free(socket);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		warn("stdout");
		if (rv == 0)
			rv = SBCTL_EXIT_FAILURE;
	}
	return rv;
}
