/*
 * libFuzzer: a sandboxd.conf through config_load_string() and
 * config_free().  A failure must come with a "name:line: …" message and
 * leave the defaults; a success must leave every pool named.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config	 cfg;
	char		*text, *err = NULL;
	int		 i;

	/* The file reader stops at a NUL like libinih; so do we. */
	text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	config_defaults(&cfg);
	if (config_load_string("fuzz.conf", text, &cfg, &err) == -1) {
		if (err == NULL || strncmp(err, "fuzz.conf", 9) != 0)
			abort();
		if (cfg.npools != 0 || cfg.nuser_budgets != 0 ||
		    cfg.ngroup_budgets != 0)
			abort();
		free(err);
	} else {
		if (err != NULL)
			abort();
		for (i = 0; i < cfg.npools; i++) {
			if (cfg.pools[i].name == NULL ||
			    config_pool_find(&cfg, cfg.pools[i].name) == NULL)
				abort();
		}
	}
	config_free(&cfg);
	free(text);
	return 0;
}
