/* gateway_address: --gateway, config, CWSANDBOX_BASE_URL, then local. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"
#include "daemon/gateway-address.h"

/* The address sandboxd would use for this config text, flag and env. */
static char *
resolve(const char *conf, const char *flag, const char *base_url)
{
	struct config	 cfg;
	char		*err = NULL, *a;

	config_defaults(&cfg);
	if (config_load_string("t.conf", conf, &cfg, &err) == -1)
		fail_msg("%s", err);
	a = gateway_address(flag, &cfg.gateway, base_url);
	config_free(&cfg);
	return a;
}

static void
expect(const char *conf, const char *flag, const char *base_url,
    const char *want)
{
	char	*a = resolve(conf, flag, base_url);

	assert_string_equal(a, want);
	free(a);
}

static void
test_default_is_local(void **state)
{
	expect("", NULL, NULL, "local");
	expect("", NULL, "", "local");
	expect("[gateway]\nchannels = 2\n", NULL, NULL, "local");
}

static void
test_base_url_when_config_is_silent(void **state)
{
	expect("", NULL, "https://gw.example:8443/v1", "gw.example:8443");
	expect("", NULL, "http://gw.example:80", "gw.example:80");
	expect("", NULL, "gw.example:443", "gw.example:443");
}

static void
test_explicit_local_beats_base_url(void **state)
{
	expect("[gateway]\naddress = local\n", NULL, "https://gw.example:1",
	    "local");
	expect("[gateway]\naddress = unix:/run/gw.sock\n", NULL,
	    "https://gw.example:1", "unix:/run/gw.sock");
	expect("[gateway]\naddress = other:443\n", NULL, "gw.example:1",
	    "other:443");
}

static void
test_flag_beats_everything(void **state)
{
	expect("[gateway]\naddress = other:443\n", "local", "gw.example:1",
	    "local");
	expect("[gateway]\naddress = local\n", "unix:/tmp/x.sock", NULL,
	    "unix:/tmp/x.sock");
	expect("", "https://flag.example:9/x", "gw.example:1",
	    "flag.example:9");
}

static void
test_remote(void **state)
{
	expect("[gateway]\naddress = remote\n", NULL, NULL, REMOTE_GATEWAY);
	expect("[gateway]\naddress = remote\n", NULL, "https://gw.example:7",
	    "gw.example:7");
	expect("[gateway]\naddress = local\n", "remote", NULL, REMOTE_GATEWAY);
}

static void
test_is_remote(void **state)
{
	assert_false(gateway_is_remote("local"));
	assert_false(gateway_is_remote("unix:/run/gw.sock"));
	assert_true(gateway_is_remote(REMOTE_GATEWAY));
	assert_true(gateway_is_remote("localhost:8443"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_is_local),
		cmocka_unit_test(test_base_url_when_config_is_silent),
		cmocka_unit_test(test_explicit_local_beats_base_url),
		cmocka_unit_test(test_flag_beats_everything),
		cmocka_unit_test(test_remote),
		cmocka_unit_test(test_is_remote),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
