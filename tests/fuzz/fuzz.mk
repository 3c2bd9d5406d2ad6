# libFuzzer harnesses and the ThreadSanitizer run, included by the Makefile.
#
#   make fuzz          each harness for FUZZ_SECONDS (300) on its corpus
#   make fuzz-short    each harness for 60 s (CI)
#   make fuzz-regress  replay tests/fuzz/corpus/* and tests/fuzz/regress/*
#   make tsan          unit and end-to-end tests built with -fsanitize=thread
#
# The project's libraries are rebuilt with clang, ASan+UBSan and coverage
# into $(FUZZ_B)/ by a sub-make, so nothing here touches $(B)/.

FUZZ_B       ?= build-fuzz
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 300
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer
FUZZ_CFLAGS  := -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link
FUZZ_LIBS    := $(FUZZ_B)/libdaemon.a $(FUZZ_B)/libcommon.a \
	$(FUZZ_B)/libproto.a
FUZZ_NAMES   := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz-*.c))
FUZZ_BINS    := $(addprefix $(FUZZ_B)/fuzz/,$(FUZZ_NAMES))
FUZZ_WORK    := $(FUZZ_B)/corpus
# Leaks fail a run; -rss_limit_mb keeps a runaway input from taking the box.
FUZZ_ENV     := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:symbolize=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
FUZZ_FLAGS   := -rss_limit_mb=2048 -timeout=25 -print_final_stats=1

TSAN_B       ?= build-tsan
TSAN_FLAGS   := -fsanitize=thread -fno-omit-frame-pointer
TSAN_MAKEFLAGS = CFLAGS="-O1 -g $(TSAN_FLAGS)" LDFLAGS="$(TSAN_FLAGS)"
TSAN_ENV     := SANDBOXD_SANITIZE=1 TSAN_OPTIONS="suppressions=$(abspath tests/tsan.supp) \
	halt_on_error=1 second_deadlock_stack=1 history_size=4 \
	log_path=$(abspath $(TSAN_B))/tsan"

FUZZ_WARN    := $(WARN)
FUZZ_MAKE    := $(MAKE) --no-print-directory CC="$(FUZZ_CC)" \
	WARN="$(FUZZ_WARN)"

.PHONY: fuzz fuzz-build fuzz-libs fuzz-short fuzz-regress fuzz-clean tsan

# The sub-make rebuilds what is stale in the libraries; a second pass then
# relinks only the harnesses older than a library or their source.
fuzz-libs:
	+@$(FUZZ_MAKE) B=$(FUZZ_B) CFLAGS="$(FUZZ_CFLAGS)" \
		LDFLAGS="$(FUZZ_SAN)" $(FUZZ_LIBS)

$(FUZZ_B)/fuzz/%: tests/fuzz/%.c $(FUZZ_LIBS)
	@mkdir -p $(@D)
	@echo "  FUZZ-LD $@"
	@$(FUZZ_CC) -std=gnu17 -D_GNU_SOURCE -I. -Icommon -Idaemon \
		-I$(FUZZ_B)/proto $(PKG_CFLAGS) $(FUZZ_CFLAGS) $(FUZZ_WARN) \
		-fsanitize=fuzzer -o $@ $< $(FUZZ_LIBS) $(PKG_LIBS)

# fuzz-dispatch includes its fake gateway.
$(FUZZ_B)/fuzz/fuzz-dispatch: tests/fuzz/fake-gateway.c

fuzz-build: fuzz-libs
	+@$(MAKE) --no-print-directory $(FUZZ_BINS)

# Runs each harness on a scratch copy of its seeds (new finds stay in
# $(FUZZ_WORK)/; crashes land in $(FUZZ_B)/crash-* to move to regress/).
fuzz: fuzz-build
	@fail=0; for n in $(FUZZ_NAMES); do \
		mkdir -p $(FUZZ_WORK)/$$n; \
		cp -n tests/fuzz/corpus/$$n/* $(FUZZ_WORK)/$$n/ 2>/dev/null; \
		echo "== $$n for $(FUZZ_SECONDS)s"; \
		$(FUZZ_ENV) $(FUZZ_B)/fuzz/$$n $(FUZZ_FLAGS) \
			-max_total_time=$(FUZZ_SECONDS) \
			-artifact_prefix=$(FUZZ_B)/crash-$$n- \
			$(FUZZ_WORK)/$$n || fail=1; \
	done; exit $$fail

fuzz-short:
	+@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=60

# Every seed and every past crash must run clean (no fuzzing, just replay).
fuzz-regress: fuzz-build
	@fail=0; for n in $(FUZZ_NAMES); do \
		set -- tests/fuzz/corpus/$$n/* tests/fuzz/regress/$$n/*; \
		files=""; for f; do [ -f "$$f" ] && files="$$files $$f"; done; \
		echo "== $$n: $$(echo $$files | wc -w) inputs"; \
		[ -n "$$files" ] || continue; \
		$(FUZZ_ENV) $(FUZZ_B)/fuzz/$$n $(FUZZ_FLAGS) $$files \
			>$(FUZZ_B)/regress-$$n.log 2>&1 || \
			{ fail=1; tail -n 60 $(FUZZ_B)/regress-$$n.log; }; \
	done; exit $$fail

fuzz-clean:
	rm -rf $(FUZZ_B) $(TSAN_B)

# The daemon's two threads (loop and cq-bridge) under ThreadSanitizer.
# Reports go to $(TSAN_B)/tsan.PID files (the e2e tests' daemons and
# gateways log elsewhere), so any report at all fails the run.
tsan:
	+@$(FUZZ_MAKE) B=$(TSAN_B) $(TSAN_MAKEFLAGS) check-build
	@rm -f $(TSAN_B)/tsan.*
	+@fail=0; \
	$(TSAN_ENV) $(FUZZ_MAKE) B=$(TSAN_B) $(TSAN_MAKEFLAGS) unit || fail=1; \
	$(TSAN_ENV) $(FUZZ_MAKE) B=$(TSAN_B) $(TSAN_MAKEFLAGS) e2e || fail=1; \
	for r in $(TSAN_B)/tsan.*; do [ -f "$$r" ] || continue; \
		echo "== ThreadSanitizer: $$r"; cat "$$r"; fail=1; done; \
	exit $$fail
