/*
 * The gateway credential: the W&B key from the first source that has one,
 * the CoreWeave bearer key, entity and project.  Keys are wiped on free
 * and never appear in a message.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "credentials.h"
#include "log.h"
#include "xmalloc.h"

#define KEY_FILE_MAX	(64 << 10)
#define NETRC_MAX	(1 << 20)
#define NETRC_HOST	"api.wandb.ai"

/* Wipes and frees a secret string. */
static void
wipe(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

/* Drops trailing whitespace (and the newline editors add) in place. */
static void
trim(char *s)
{
	size_t	 n = strlen(s);

	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
}

/* A key is visible ASCII without spaces: anything else breaks headers. */
static bool
key_ok(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

/* An environment value, trimmed; NULL when unset or blank. */
static char *
env_value(const char *name)
{
	const char	*v = getenv(name);
	char		*s;

	if (v == NULL)
		return NULL;
	s = xstrdup(v);
	trim(s);
	if (*s == '\0') {
		free(s);
		return NULL;
	}
	return s;
}

/*
 * Reads a whole small file into *out.  Returns 0, 1 when it does not exist
 * and `missing_ok`, or -1 with *err.  Warns when group or others may read it.
 */
static int
read_secret_file(const char *path, size_t max, bool missing_ok, char **out,
    char **err)
{
	struct stat	 st;
	char		*buf;
	size_t		 off = 0;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT && missing_ok)
			return 1;
		*err = xasprintf("cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (size_t)st.st_size > max) {
		*err = xasprintf("%s: not a regular file of at most %zu bytes",
		    path, max);
		close(fd);
		return -1;
	}
	if (st.st_mode & (S_IRGRP | S_IROTH))
		log_warnx("%s is readable by %s; it holds a key: chmod 600 it",
		    path, st.st_mode & S_IROTH ? "everyone" : "its group");
	buf = xmalloc((size_t)st.st_size + 1);
	while (off < (size_t)st.st_size &&
	    (n = read(fd, buf + off, (size_t)st.st_size - off)) > 0)
		off += (size_t)n;
	close(fd);
	buf[off] = '\0';
	if (strlen(buf) != off) {
		*err = xasprintf("%s: contains a NUL byte", path);
		wipe(buf);
		return -1;
	}
	*out = buf;
	return 0;
}

/*
 * A key file: its whole content, trimmed, must be one key.  With
 * `missing_ok` (the credentials directory) a missing or blank file is 1:
 * blank is the unit's SetCredential= default when /etc has no key file.
 */
static int
key_from_file(const char *path, bool missing_ok, char **key, char **err)
{
	char	*buf;
	int	 rc;

	if ((rc = read_secret_file(path, KEY_FILE_MAX, missing_ok, &buf,
	    err)) != 0)
		return rc;
	trim(buf);
	if (missing_ok && *buf == '\0') {
		wipe(buf);
		return 1;
	}
	if (!key_ok(buf)) {
		*err = xasprintf("%s: %s", path, *buf == '\0' ?
		    "empty API key" : "API key has spaces or control "
		    "characters");
		wipe(buf);
		return -1;
	}
	*key = buf;
	return 0;
}

/* The next netrc token (quotes and backslashes as in curl); NULL at end. */
static char *
netrc_token(char **pp)
{
	char	*p = *pp, *start, *w;

	while (*p != '\0' && isspace((unsigned char)*p))
		p++;
	if (*p == '\0')
		return NULL;
	if (*p == '"') {
		start = w = ++p;
		while (*p != '\0' && *p != '"') {
			if (*p == '\\' && p[1] != '\0')
				p++;
			*w++ = *p++;
		}
		if (*p == '"')
			p++;
	} else {
		start = w = p;
		while (*p != '\0' && !isspace((unsigned char)*p))
			*w++ = *p++;
		if (*p != '\0')
			p++;
	}
	*w = '\0';
	*pp = p;
	return start;
}

/*
 * The password of `machine host` in a netrc text, else of `default`; NULL
 * when neither has one.  macdef bodies (up to a blank line) are skipped.
 */
static char *
netrc_find(char *text, const char *host)
{
	char	*p = text, *t, *found = NULL, *dflt = NULL;
	int	 cur = 0;	/* 0 other, 1 our machine, 2 default */
	char	*end;

	while (found == NULL && (t = netrc_token(&p)) != NULL) {
		if (strcmp(t, "machine") == 0) {
			if ((t = netrc_token(&p)) == NULL)
				break;
			cur = strcmp(t, host) == 0 ? 1 : 0;
		} else if (strcmp(t, "default") == 0)
			cur = 2;
		else if (strcmp(t, "password") == 0) {
			if ((t = netrc_token(&p)) == NULL)
				break;
			if (cur == 1)
				found = t;
			else if (cur == 2 && dflt == NULL)
				dflt = t;
		} else if (strcmp(t, "login") == 0 ||
		    strcmp(t, "account") == 0) {
			if (netrc_token(&p) == NULL)
				break;
		} else if (strcmp(t, "macdef") == 0) {
			netrc_token(&p);
			if ((end = strstr(p, "\n\n")) == NULL)
				break;
			p = end + 2;
		}
	}
	if (found == NULL)
		found = dflt;
	return found != NULL ? xstrdup(found) : NULL;
}

/* ~/.netrc: 0 and *key (maybe NULL) or -1 when it cannot be read. */
static int
key_from_netrc(char **key, char **err)
{
	const char	*home = getenv("HOME");
	struct passwd	*pw;
	char		*path, *text = NULL, *k;
	int		 rc;

	*key = NULL;
	if ((home == NULL || *home == '\0') &&
	    (pw = getpwuid(getuid())) != NULL)
		home = pw->pw_dir;
	if (home == NULL || *home == '\0')
		return 0;
	path = xasprintf("%s/.netrc", home);
	rc = read_secret_file(path, NETRC_MAX, true, &text, err);
	if (rc == 0) {
		k = netrc_find(text, NETRC_HOST);
		wipe(text);
		if (k != NULL && !key_ok(k)) {
			*err = xasprintf("%s: the password for %s has spaces "
			    "or control characters", path, NETRC_HOST);
			wipe(k);
			rc = -1;
		} else
			*key = k;
	}
	free(path);
	return rc == -1 ? -1 : 0;
}

/* The W&B key from the first source that has one. */
static int
resolve_key(const struct config_gateway *cfg, struct credentials *c,
    char **err)
{
	const char	*dir;
	char		*path;
	int		 rc;

	if ((c->api_key = env_value("SANDBOXD_API_KEY")) != NULL) {
		c->source = "SANDBOXD_API_KEY";
		return 0;
	}
	if ((dir = getenv("CREDENTIALS_DIRECTORY")) != NULL && *dir != '\0') {
		path = xasprintf("%s/api-key", dir);
		rc = key_from_file(path, true, &c->api_key, err);
		free(path);
		if (rc == -1)
			return -1;
		if (rc == 0) {
			c->source = "$CREDENTIALS_DIRECTORY/api-key";
			return 0;
		}
	}
	if (cfg != NULL && cfg->api_key_file != NULL) {
		if (key_from_file(cfg->api_key_file, false, &c->api_key,
		    err) == -1)
			return -1;
		c->source = "api_key_file";
		return 0;
	}
	if ((c->api_key = env_value("WANDB_API_KEY")) != NULL) {
		c->source = "WANDB_API_KEY";
		return 0;
	}
	if (key_from_netrc(&c->api_key, err) == -1)
		return -1;
	c->source = c->api_key != NULL ? "~/.netrc" : "none";
	return 0;
}

int
credentials_resolve(const struct config_gateway *cfg, struct credentials *c,
    char **err)
{
	memset(c, 0, sizeof *c);
	*err = NULL;
	if (resolve_key(cfg, c, err) == -1)
		goto fail;
	if (c->api_key != NULL && !key_ok(c->api_key)) {
		*err = xasprintf("the API key from %s has spaces or control "
		    "characters", c->source);
		goto fail;
	}
	if ((c->bearer = env_value("CWSANDBOX_API_KEY")) != NULL &&
	    !key_ok(c->bearer)) {
		*err = xstrdup("CWSANDBOX_API_KEY has spaces or control "
		    "characters");
		goto fail;
	}
	if (cfg != NULL && cfg->entity != NULL && *cfg->entity != '\0')
		c->entity = xstrdup(cfg->entity);
	else
		c->entity = env_value("WANDB_ENTITY_NAME");
	if (cfg != NULL && cfg->project != NULL && *cfg->project != '\0')
		c->project = xstrdup(cfg->project);
	else
		c->project = env_value("WANDB_PROJECT");
	return 0;
fail:
	credentials_free(c);
	return -1;
}

void
credentials_free(struct credentials *c)
{
	wipe(c->api_key);
	wipe(c->bearer);
	free(c->entity);
	free(c->project);
	memset(c, 0, sizeof *c);
}
