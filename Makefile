# sandboxd — one non-recursive Makefile for the daemon, the CLI, the local
# gateway, their shared library and the tests.
#
#   make            build everything into $(B)/
#   make check      unit tests (cmocka) and end-to-end tests (pytest)
#   make demo       start the local gateway and sandboxd, lease, run, release
#   make sanitize   the same tests, built with ASan+UBSan into build-san/
#   make deps       install the Debian packages this project needs (root)
#   make install    PREFIX=/usr/local DESTDIR= …

PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
SBINDIR     ?= $(PREFIX)/sbin
MANDIR      ?= $(PREFIX)/share/man
SYSTEMDDIR  ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
DOCDIR      ?= $(PREFIX)/share/doc/sandboxd
# The gateway finds its keeper at ../libexec/sandboxd from its own directory.
KEEPERDIR   := $(dir $(SBINDIR))libexec/sandboxd

B       ?= build
PYTHON  := /usr/bin/python3
PYTEST  ?= $(PYTHON) -m pytest

# The one list of Debian packages: what builds, tests and runs sandboxd.
DEBS := build-essential pkg-config clang \
	libgrpc-dev libprotobuf-c-dev protobuf-c-compiler protobuf-compiler \
	libprotobuf-dev libevent-dev libjansson-dev libsystemd-dev libinih-dev \
	libcmocka-dev bubblewrap openssl util-linux procps iproute2 systemd \
	python3 python3-grpcio python3-protobuf python3-pytest jq hyperfine
PKGS := grpc libprotobuf-c libevent jansson libsystemd inih
TOOLS := protoc protoc-c bwrap pkg-config jq

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lutil -lm
CMOCKA_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Werror -Wformat=2 -Wstrict-prototypes \
	-Wmissing-prototypes -Wno-unused-parameter
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
ifeq ($(SAN),1)
CFLAGS  += $(SAN_FLAGS)
LDFLAGS += $(SAN_FLAGS)
endif
CPPFLAGS += -std=gnu17 -D_GNU_SOURCE -I. -Icommon -I$(B)/proto $(PKG_CFLAGS) \
	-DSANDBOXD_VERSION='"$(VERSION)"' -MMD -MP
VERSION := 0.1.0

# Generated protobuf-c code: the gateway's protos and the Timestamp import.
PROTO_DIR   := proto/coreweave/sandbox/v1beta2
PROTOS      := $(PROTO_DIR)/gateway.proto $(PROTO_DIR)/streaming.proto
PROTO_GEN   := $(patsubst proto/%.proto,$(B)/proto/%.pb-c.c,$(PROTOS)) \
	$(B)/proto/google/protobuf/timestamp.pb-c.c
PROTO_HDRS  := $(PROTO_GEN:.c=.h)

# Every directory is a library of its .c files, less main.c, so unit tests
# can link any module; new files need no Makefile change.
lib_srcs = $(filter-out $(1)/main.c,$(wildcard $(1)/*.c))
objs     = $(patsubst %.c,$(B)/%.o,$(1))

COMMON_OBJS  := $(call objs,$(call lib_srcs,common))
DAEMON_OBJS  := $(call objs,$(call lib_srcs,daemon))
CLIENT_OBJS  := $(call objs,$(call lib_srcs,client))
GATEWAY_OBJS := $(call objs,$(call lib_srcs,gateway))
PROTO_OBJS   := $(PROTO_GEN:.c=.o)
UNIT_SRCS    := $(wildcard tests/unit/test-*.c)
# Set-up shared by several unit tests: an archive, so each test program
# takes only the helpers it calls.
UNIT_HELP    := $(B)/libunithelp.a
UNIT_HELP_OBJS := $(call objs,$(wildcard tests/unit/helpers/*.c))
UNIT_BINS    := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRCS))
BENCH_SRCS   := $(wildcard bench/*.c)
BENCH_BINS   := $(patsubst bench/%.c,$(B)/bench/%,$(BENCH_SRCS))

LIBS := $(B)/libdaemon.a $(B)/libgateway.a $(B)/libclient.a \
	$(B)/libcommon.a $(B)/libproto.a
BINS := $(B)/sandboxd $(B)/sbctl $(B)/sandbox-gateway-local
KEEPER := $(B)/sandbox-gateway-keeper

.PHONY: all check check-build unit e2e demo sanitize bench deps deps-check \
	install uninstall clean
.DEFAULT_GOAL := all

all: $(BINS) $(KEEPER)

BASE_LIBS := $(B)/libcommon.a $(B)/libproto.a
$(B)/sandboxd: $(B)/daemon/main.o $(B)/libdaemon.a $(BASE_LIBS)
$(B)/sbctl: $(B)/client/main.o $(B)/libclient.a $(BASE_LIBS)
$(B)/sandbox-gateway-local: $(B)/gateway/main.o $(B)/libgateway.a $(BASE_LIBS)
$(BINS):
	$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

# The gateway's keeper: one small program on libc alone (gateway/keeper/).
$(KEEPER): $(B)/gateway/keeper/keeper.o
	$(CC) $(LDFLAGS) -o $@ $^

$(B)/libcommon.a: $(COMMON_OBJS)
$(B)/libdaemon.a: $(DAEMON_OBJS)
$(B)/libclient.a: $(CLIENT_OBJS)
$(B)/libgateway.a: $(GATEWAY_OBJS)
$(B)/libproto.a: $(PROTO_OBJS)
$(UNIT_HELP): $(UNIT_HELP_OBJS)
$(LIBS) $(UNIT_HELP):
	@mkdir -p $(@D)
	rm -f $@ && $(AR) rcs $@ $^

# Our code: warnings are errors.  Generated code: compiled as it comes.
$(B)/%.o: %.c | $(PROTO_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -c -o $@ $<

$(B)/proto/%.pb-c.o: $(B)/proto/%.pb-c.c $(PROTO_HDRS)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(PROTO_GEN) $(PROTO_HDRS) &: $(PROTOS)
	@mkdir -p $(B)/proto
	protoc-c -Iproto -I/usr/include --c_out=$(B)/proto $(PROTOS) \
		google/protobuf/timestamp.proto

$(B)/tests/%: tests/unit/%.c $(UNIT_HELP) $(LIBS) | $(PROTO_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) $(LDFLAGS) -o $@ $< $(UNIT_HELP) \
		$(LIBS) $(PKG_LIBS) $(CMOCKA_LIBS)

# test-log catches the journal's lines: what sd_journal_sendv() becomes
# (a macro for sd_journal_sendv_with_location) is wrapped.
$(B)/tests/test-log: LDFLAGS += -Wl,--wrap=sd_journal_sendv_with_location

$(B)/bench/%: bench/%.c $(LIBS) | $(PROTO_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) $(LDFLAGS) -o $@ $< $(LIBS) $(PKG_LIBS)

# --- dependencies ---------------------------------------------------------

# Installs DEBS as root; otherwise says exactly what to run.
deps:
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends $(DEBS); \
	else \
		echo "make deps: run as root: apt-get install $(DEBS)" >&2; \
		exit 1; \
	fi

# Runs `make deps` only when something is missing.
deps-check:
	@if ! pkg-config --exists $(PKGS) cmocka 2>/dev/null || \
	    ! for t in $(TOOLS); do command -v $$t >/dev/null || exit 1; done || \
	    ! $(PYTHON) -c 'import grpc, google.protobuf, pytest' 2>/dev/null; \
	then echo "missing dependencies: running make deps"; $(MAKE) deps; fi

# --- tests -----------------------------------------------------------------

# Unit tests, then end-to-end tests: one after the other even under -j, so
# the gRPC unit tests do not compete with the timing-bound e2e ones.
check: deps-check
	@$(MAKE) --no-print-directory check-build
	@$(MAKE) --no-print-directory unit && $(MAKE) --no-print-directory e2e

check-build: all $(UNIT_BINS) $(BENCH_BINS)

unit: $(UNIT_BINS)
	@fail=0; for t in $(UNIT_BINS); do \
		echo "== $$t"; $$t || fail=1; done; exit $$fail

e2e: all
	SANDBOXD_BUILD=$(abspath $(B)) $(PYTEST) -q -p no:cacheprovider \
		$(PYTEST_ARGS) tests/e2e

SAN_ENV := SANDBOXD_SANITIZE=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	LSAN_OPTIONS=suppressions=$(abspath tests/lsan.supp) \
	UBSAN_OPTIONS=print_stacktrace=1
SAN_MAKE := $(SAN_ENV) $(MAKE) --no-print-directory B=build-san SAN=1

sanitize: deps-check
	@$(MAKE) --no-print-directory B=build-san SAN=1 check-build
	@$(SAN_MAKE) unit && $(SAN_MAKE) e2e

demo: deps-check
	@$(MAKE) --no-print-directory all
	@B=$(abspath $(B)) sh tests/demo.sh

bench: deps-check
	@$(MAKE) --no-print-directory all $(BENCH_BINS)
	@SANDBOXD_BUILD=$(abspath $(B)) sh bench/run.sh

# --- install ---------------------------------------------------------------

# The units' ExecStart= names sandboxd where this install puts it.  The
# gateway = local drop-in relaxes the hardening: it goes to DOCDIR as an
# example to copy into /etc/systemd/system/sandboxd.service.d/, never
# enabled by install.
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR)
	install -m 755 $(B)/sbctl $(DESTDIR)$(BINDIR)/sbctl
	install -m 755 $(B)/sandboxd $(B)/sandbox-gateway-local $(DESTDIR)$(SBINDIR)/
	install -d $(DESTDIR)$(KEEPERDIR)
	install -m 755 $(KEEPER) $(DESTDIR)$(KEEPERDIR)/
	for f in man/*.[1-8]; do [ -e "$$f" ] || continue; \
		s=$${f##*.}; install -d $(DESTDIR)$(MANDIR)/man$$s; \
		install -m 644 $$f $(DESTDIR)$(MANDIR)/man$$s/; done
	install -d $(DESTDIR)$(SYSTEMDDIR) $(DESTDIR)$(SYSUSERSDIR) \
		$(DESTDIR)$(TMPFILESDIR)
	for f in systemd/*.service systemd/*.socket; do [ -e "$$f" ] || continue; \
		sed 's|^ExecStart=/usr/local/sbin/|ExecStart=$(SBINDIR)/|' \
		"$$f" >$(DESTDIR)$(SYSTEMDDIR)/$${f##*/} && \
		chmod 644 $(DESTDIR)$(SYSTEMDDIR)/$${f##*/} || exit 1; done
	install -d $(DESTDIR)$(DOCDIR)
	install -m 644 systemd/sandboxd-local-gateway.conf $(DESTDIR)$(DOCDIR)/
	[ ! -e systemd/sysusers.conf ] || install -m 644 systemd/sysusers.conf \
		$(DESTDIR)$(SYSUSERSDIR)/sandboxd.conf
	[ ! -e systemd/tmpfiles.conf ] || install -m 644 systemd/tmpfiles.conf \
		$(DESTDIR)$(TMPFILESDIR)/sandboxd.conf

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/sbctl $(DESTDIR)$(SBINDIR)/sandboxd \
		$(DESTDIR)$(SBINDIR)/sandbox-gateway-local \
		$(DESTDIR)$(KEEPERDIR)/sandbox-gateway-keeper
	-rmdir $(DESTDIR)$(KEEPERDIR) 2>/dev/null
	for f in man/*.[1-8]; do [ -e "$$f" ] || continue; s=$${f##*.}; \
		rm -f $(DESTDIR)$(MANDIR)/man$$s/$${f##*/}; done
	for f in systemd/*.service systemd/*.socket; do [ -e "$$f" ] || continue; \
		rm -f $(DESTDIR)$(SYSTEMDDIR)/$${f##*/}; done
	rm -f $(DESTDIR)$(SYSUSERSDIR)/sandboxd.conf \
		$(DESTDIR)$(TMPFILESDIR)/sandboxd.conf \
		$(DESTDIR)$(DOCDIR)/sandboxd-local-gateway.conf
	-rmdir $(DESTDIR)$(DOCDIR) 2>/dev/null

clean:
	rm -rf build build-san build-fuzz build-tsan

-include $(shell find $(B) -name '*.d' 2>/dev/null)

# Fuzzing (libFuzzer) and ThreadSanitizer targets live beside their inputs.
-include tests/fuzz/fuzz.mk
