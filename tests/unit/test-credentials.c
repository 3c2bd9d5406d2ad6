/*
 * Credential resolution: every source in order, precedence, netrc forms,
 * trimming, missing and bad files, and the warning for readable key files
 * (which must not quote the key).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "daemon/credentials.h"
#include "log.h"

static char	 tmpdir[64];
static char	 captured[8192];
static char	 keyfile[128], nopefile[128];

static const char *const vars[] = { "SANDBOXD_API_KEY",
	"CREDENTIALS_DIRECTORY", "WANDB_API_KEY", "CWSANDBOX_API_KEY",
	"WANDB_ENTITY_NAME", "WANDB_PROJECT", NULL };

static char *
path_in(const char *name)
{
	static char	 buf[4][256];
	static int	 i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof buf[i], "%s/%s", tmpdir, name);
	return buf[i];
}

static void
put_file(const char *name, const char *text, mode_t mode)
{
	const char	*p = path_in(name);
	int		 fd;

	unlink(p);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	fchmod(fd, mode);
	close(fd);
}

/* A fresh HOME and no credential variables, for every test. */
static int
setup(void **state)
{
	const char *const	*v;

	strcpy(tmpdir, "/tmp/sbx-cred-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	for (v = vars; *v != NULL; v++)
		unsetenv(*v);
	setenv("HOME", tmpdir, 1);
	mkdir(path_in("creds"), 0700);
	snprintf(keyfile, sizeof keyfile, "%s/keyfile", tmpdir);
	snprintf(nopefile, sizeof nopefile, "%s/nope", tmpdir);
	return 0;
}

static int
teardown(void **state)
{
	char	*cmd;

	assert_true(asprintf(&cmd, "rm -rf '%s'", tmpdir) > 0);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	return 0;
}

/* Resolves with stderr captured into `captured`. */
static int
resolve(const struct config_gateway *cfg, struct credentials *c, char **err)
{
	int	 saved, fd, rc;
	ssize_t	 n;

	fflush(stderr);
	saved = dup(2);
	fd = open(path_in("stderr"), O_RDWR | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 2);
	rc = credentials_resolve(cfg, c, err);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, captured, sizeof captured - 1, 0);
	captured[n > 0 ? n : 0] = '\0';
	close(fd);
	return rc;
}

/* Each source wins over all that come after it. */
static void
test_precedence(void **state)
{
	struct config_gateway	 cfg = { 0 };
	struct credentials	 c;
	char			*err;

	put_file(".netrc", "machine api.wandb.ai login u password k-netrc\n",
	    0600);
	put_file("keyfile", "k-file\n", 0600);
	put_file("creds/api-key", "k-creds\n", 0600);
	cfg.api_key_file = keyfile;
	setenv("SANDBOXD_API_KEY", "k-sandboxd", 1);
	setenv("CREDENTIALS_DIRECTORY", path_in("creds"), 1);
	setenv("WANDB_API_KEY", "k-wandb", 1);

	assert_int_equal(resolve(&cfg, &c, &err), 0);
	assert_string_equal(c.api_key, "k-sandboxd");
	assert_string_equal(c.source, "SANDBOXD_API_KEY");
	credentials_free(&c);

	unsetenv("SANDBOXD_API_KEY");
	assert_int_equal(resolve(&cfg, &c, &err), 0);
	assert_string_equal(c.api_key, "k-creds");
	assert_string_equal(c.source, "$CREDENTIALS_DIRECTORY/api-key");
	credentials_free(&c);

	unsetenv("CREDENTIALS_DIRECTORY");
	assert_int_equal(resolve(&cfg, &c, &err), 0);
	assert_string_equal(c.api_key, "k-file");
	assert_string_equal(c.source, "api_key_file");
	credentials_free(&c);

	cfg.api_key_file = NULL;
	assert_int_equal(resolve(&cfg, &c, &err), 0);
	assert_string_equal(c.api_key, "k-wandb");
	assert_string_equal(c.source, "WANDB_API_KEY");
	credentials_free(&c);

	unsetenv("WANDB_API_KEY");
	assert_int_equal(resolve(&cfg, &c, &err), 0);
	assert_string_equal(c.api_key, "k-netrc");
	assert_string_equal(c.source, "~/.netrc");
	credentials_free(&c);

	unlink(path_in(".netrc"));
	assert_int_equal(resolve(&cfg, &c, &err), 0);
	assert_null(c.api_key);
	assert_string_equal(c.source, "none");
	credentials_free(&c);
	assert_null(c.api_key);
}

/*
 * A credentials directory without api-key, or with an empty one, is passed
 * over; blank env too.
 */
static void
test_skips(void **state)
{
	struct credentials	 c;
	char			*err;

	setenv("CREDENTIALS_DIRECTORY", path_in("creds"), 1);
	setenv("SANDBOXD_API_KEY", "  \n", 1);
	setenv("WANDB_API_KEY", "k-wandb\n", 1);
	assert_int_equal(resolve(NULL, &c, &err), 0);
	assert_string_equal(c.api_key, "k-wandb");
	credentials_free(&c);

	/* Blank: the unit's SetCredential=api-key:\n stands in for no file. */
	put_file("creds/api-key", "\n", 0400);
	assert_int_equal(resolve(NULL, &c, &err), 0);
	assert_string_equal(c.api_key, "k-wandb");
	assert_string_equal(c.source, "WANDB_API_KEY");
	credentials_free(&c);
}

static const struct {
	const char	*text;
	const char	*key;	/* NULL: none found */
} netrcs[] = {
	{ "machine api.wandb.ai login user password KEY1\n", "KEY1" },
	{ "machine api.wandb.ai\n  login user\n  password KEY2\n", "KEY2" },
	{ "machine example.com login a password nope\n"
	  "machine api.wandb.ai login b password KEY3\n", "KEY3" },
	{ "machine api.wandb.ai password KEY4 login user\n", "KEY4" },
	{ "default login anon password DEF\n", "DEF" },
	{ "default login anon password DEF\n"
	  "machine api.wandb.ai login u password KEY5\n", "KEY5" },
	{ "machine api.wandb.ai login \"a b\" password \"KEY6\"\n", "KEY6" },
	{ "macdef init\nmachine api.wandb.ai password BAD\n\n"
	  "machine api.wandb.ai password KEY7\n", "KEY7" },
	{ "machine api.wandb.ai login user\n", NULL },
	{ "machine example.com password other\n", NULL },
	{ "machine api.wandb.ai.evil.com password EVIL\n", NULL },
	{ "", NULL },
	{ "machine", NULL },
	{ "machine api.wandb.ai password", NULL },
};

/* Every netrc layout we expect to meet. */
static void
test_netrc_forms(void **state)
{
	struct credentials	 c;
	char			*err;
	size_t			 i;

	for (i = 0; i < sizeof netrcs / sizeof netrcs[0]; i++) {
		put_file(".netrc", netrcs[i].text, 0600);
		assert_int_equal(resolve(NULL, &c, &err), 0);
		if (netrcs[i].key == NULL) {
			if (c.api_key != NULL)
				fail_msg("netrc %zu: found %s", i, c.api_key);
		} else {
			if (c.api_key == NULL ||
			    strcmp(c.api_key, netrcs[i].key) != 0)
				fail_msg("netrc %zu: got %s", i,
				    c.api_key ? c.api_key : "(none)");
		}
		credentials_free(&c);
	}
}

/* Trailing newlines and spaces go; a key with inner spaces is refused. */
static void
test_trimming_and_bad_keys(void **state)
{
	struct config_gateway	 cfg = { 0 };
	struct credentials	 c;
	char			*err;

	cfg.api_key_file = keyfile;
	put_file("keyfile", "abc123\r\n\n  \t\n", 0600);
	assert_int_equal(resolve(&cfg, &c, &err), 0);
	assert_string_equal(c.api_key, "abc123");
	credentials_free(&c);

	put_file("keyfile", "abc 123\n", 0600);
	assert_int_equal(resolve(&cfg, &c, &err), -1);
	assert_non_null(strstr(err, "keyfile"));
	assert_null(strstr(err, "abc"));	/* the key is never quoted */
	assert_null(c.api_key);
	free(err);

	put_file("keyfile", "\n\n", 0600);
	assert_int_equal(resolve(&cfg, &c, &err), -1);
	assert_non_null(strstr(err, "empty API key"));
	free(err);

	cfg.api_key_file = NULL;
	setenv("SANDBOXD_API_KEY", "has\tTAB", 1);
	assert_int_equal(resolve(&cfg, &c, &err), -1);
	assert_non_null(strstr(err, "SANDBOXD_API_KEY"));
	assert_null(strstr(err, "TAB"));
	free(err);
}

/* A configured key file that is missing is an error naming the file. */
static void
test_missing_file(void **state)
{
	struct config_gateway	 cfg = { 0 };
	struct credentials	 c;
	char			*err;

	cfg.api_key_file = nopefile;
	setenv("WANDB_API_KEY", "k-wandb", 1);
	assert_int_equal(resolve(&cfg, &c, &err), -1);
	assert_non_null(strstr(err, "nope"));
	assert_non_null(strstr(err, "No such file"));
	free(err);

	cfg.api_key_file = tmpdir;	/* a directory */
	assert_int_equal(resolve(&cfg, &c, &err), -1);
	assert_non_null(strstr(err, "regular file"));
	free(err);
}

/* Group- or world-readable key files warn, naming the file, not the key. */
static void
test_permission_warning(void **state)
{
	struct config_gateway	 cfg = { 0 };
	struct credentials	 c;
	char			*err;

	cfg.api_key_file = keyfile;
	put_file("keyfile", "SECRETKEY\n", 0600);
	assert_int_equal(resolve(&cfg, &c, &err), 0);
	assert_null(strstr(captured, "readable"));
	credentials_free(&c);

	put_file("keyfile", "SECRETKEY\n", 0644);
	assert_int_equal(resolve(&cfg, &c, &err), 0);
	assert_string_equal(c.api_key, "SECRETKEY");
	assert_non_null(strstr(captured, "keyfile is readable by everyone"));
	assert_null(strstr(captured, "SECRETKEY"));
	credentials_free(&c);

	put_file("keyfile", "SECRETKEY\n", 0640);
	assert_int_equal(resolve(&cfg, &c, &err), 0);
	assert_non_null(strstr(captured, "readable by its group"));
	credentials_free(&c);

	cfg.api_key_file = NULL;
	put_file(".netrc", "machine api.wandb.ai password NETKEY\n", 0644);
	assert_int_equal(resolve(&cfg, &c, &err), 0);
	assert_non_null(strstr(captured, ".netrc is readable"));
	assert_null(strstr(captured, "NETKEY"));
	credentials_free(&c);
}

/* Bearer, entity and project: config first, then the environment. */
static void
test_bearer_entity_project(void **state)
{
	struct config_gateway	 cfg = { 0 };
	struct credentials	 c;
	char			*err;

	setenv("CWSANDBOX_API_KEY", "cw-key\n", 1);
	setenv("WANDB_ENTITY_NAME", "env-team", 1);
	setenv("WANDB_PROJECT", "env-proj", 1);
	assert_int_equal(resolve(&cfg, &c, &err), 0);
	assert_string_equal(c.bearer, "cw-key");
	assert_string_equal(c.entity, "env-team");
	assert_string_equal(c.project, "env-proj");
	credentials_free(&c);

	cfg.entity = "cfg-team";
	cfg.project = "cfg-proj";
	assert_int_equal(resolve(&cfg, &c, &err), 0);
	assert_string_equal(c.entity, "cfg-team");
	assert_string_equal(c.project, "cfg-proj");
	credentials_free(&c);

	unsetenv("CWSANDBOX_API_KEY");
	unsetenv("WANDB_ENTITY_NAME");
	unsetenv("WANDB_PROJECT");
	cfg.entity = cfg.project = NULL;
	assert_int_equal(resolve(&cfg, &c, &err), 0);
	assert_null(c.bearer);
	assert_null(c.entity);
	assert_null(c.project);
	credentials_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_precedence, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_skips, setup, teardown),
		cmocka_unit_test_setup_teardown(test_netrc_forms, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_trimming_and_bad_keys,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_file, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_permission_warning,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_bearer_entity_project,
		    setup, teardown),
	};

	log_init("test-credentials", 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
