# pinpostd — build, test, install. `make deps` prepares a fresh Debian machine.

PREFIX ?= /usr/local
SYSCONFDIR ?= /etc
DESTDIR ?=
BUILD ?= build
CC ?= gcc
PKG_CONFIG ?= pkg-config

PKGS := rdkafka libmariadb yaml-0.1 libcjson libcrypto libcurl libsystemd libmicrohttpd
OPT ?= -O2 -g
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wformat=2
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS))
PKG_LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS))

# The tree is the pipeline: each directory of src/ is one stage or layer, its contracts in
# the same directory of include/. A layer uses only the layers listed after it:
#   programs/  the three main()s
#   daemon/    pinpostd's loop, pacing, --check, notify, metrics, report   (pinpostd)
#   verify/    reading a run back and judging it                           (pinpost-verify)
#   sink/      where posts go: Kafka, Kinesis, dry run, the pair           (pinpostd)
#   source/    where posts come from: MySQL, demo data, sampling, keys     (pinpostd, verify)
#   gen/       the generated data set                        (pinpost-gen, pinpostd --demo)
#   client/    one Kafka client set-up and one MySQL connect             (all that connect)
#   aws/       credentials, SigV4, MSK IAM, the AWS HTTP call
#   config/    pinpostd.yaml, db_creds.yaml, client.properties
#   core/      buffers, JSON, logging, files, secrets, random numbers, exit codes
LAYERS := core config aws client gen source sink verify daemon
# Who may use whom (docs/architecture.md): a layer's files are compiled with the include
# directories of the layers it may use and no others, so a wrong-way #include fails.
USES_core :=
USES_config := core
USES_aws := config core
USES_client := aws config core
USES_gen := core
USES_source := gen client config core
USES_sink := source client aws config core
USES_verify := source gen client aws config core
USES_daemon := sink source gen client aws config core
INCLUDES := $(LAYERS:%=-Iinclude/%)
LAYER_INCLUDES = $(INCLUDES)
$(foreach l,$(LAYERS),$(eval $(BUILD)/obj/$(l)/%.o $(BUILD)/asan/$(l)/%.o: \
    LAYER_INCLUDES = $(patsubst %,-Iinclude/%,$(l) $(USES_$(l)))))
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -pthread $(OPT) $(WARN) $(LAYER_INCLUDES) $(PKG_CFLAGS) \
    -MMD -MP $(CFLAGS)
LDLIBS_ALL = $(PKG_LIBS) -lm -pthread

# One archive per layer; each program links only the layers it may use, so a call across
# the pipeline the wrong way fails to link.
layer_srcs = $(wildcard src/$(1)/*.c)
PINPOSTD_LAYERS := daemon sink source gen client aws config core
GEN_LAYERS := gen core
VERIFY_LAYERS := verify source gen client aws config core
layer_libs = $(foreach l,$(2),$(BUILD)/$(1)/lib$(l).a)

LIB_SRCS := $(foreach l,$(LAYERS),$(call layer_srcs,$(l)))
LIB_OBJS := $(LIB_SRCS:src/%.c=$(BUILD)/obj/%.o)
ASAN_OBJS := $(LIB_SRCS:src/%.c=$(BUILD)/asan/%.o)
# float-cast-overflow is not part of gcc's "undefined": a double too large for an int64
# (a huge --duration or rate) is undefined behaviour all the same.
ASAN_FLAGS := -fsanitize=address,undefined,float-cast-overflow -fno-omit-frame-pointer \
    -fno-sanitize-recover=all

UNIT_SRCS := $(wildcard test/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:test/unit/%.c=$(BUILD)/unit/%)

FUZZERS := $(patsubst test/fuzz/fuzz_%.c,%,$(wildcard test/fuzz/fuzz_*.c))
FUZZ_REPLAY_BINS := $(FUZZERS:%=$(BUILD)/fuzz-replay/fuzz_%)
FUZZ_SECONDS ?= 60

VENV := $(BUILD)/venv
KAFKA_LIBS := $(BUILD)/kafka/libs

.PHONY: all deps deps-system deps-test demo test test-unit test-integration install \
        uninstall clean format format-check kafka-jars venv bench bench-quick bench-latency bench-pods soak fuzz \
        test-fuzz-replay test-lifecycle test-wipe deb

all: $(BUILD)/pinpostd $(BUILD)/pinpost-gen $(BUILD)/pinpost-verify

# Quiet compile lines ("CC src/core/buf.c"); V=1 shows the whole command.
V ?=
Q := $(if $(V),,@)
$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(@D)
	$(if $(V),,@echo "CC $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/asan/%.o: src/%.c
	@mkdir -p $(@D)
	$(if $(V),,@echo "CC (asan) $<")
	$(Q)$(CC) $(ALL_CFLAGS) $(ASAN_FLAGS) -c $< -o $@

# lib<layer>.a from the layer's objects, for each layer and each build (obj, asan).
define layer_archive
$(BUILD)/$(1)/lib$(2).a: $(patsubst src/%.c,$(BUILD)/$(1)/%.o,$(call layer_srcs,$(2)))
	@rm -f $$@
	$$(AR) rcs $$@ $$^
endef
$(foreach b,obj asan,$(foreach l,$(LAYERS),$(eval $(call layer_archive,$(b),$(l)))))

# Unit tests and fuzzers reach into every layer.
$(BUILD)/libpinpost-asan.a: $(ASAN_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

LINK = $(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_ALL)
$(BUILD)/pinpostd: $(BUILD)/obj/programs/pinpostd.o $(call layer_libs,obj,$(PINPOSTD_LAYERS))
	$(LINK)
$(BUILD)/pinpost-gen: $(BUILD)/obj/programs/pinpost-gen.o $(call layer_libs,obj,$(GEN_LAYERS))
	$(LINK)
$(BUILD)/pinpost-verify: $(BUILD)/obj/programs/pinpost-verify.o \
    $(call layer_libs,obj,$(VERIFY_LAYERS))
	$(LINK)

# The three programs built with ASan/UBSan, for the integration tier.
ASAN_BINS := $(BUILD)/asan-bin/pinpostd $(BUILD)/asan-bin/pinpost-gen $(BUILD)/asan-bin/pinpost-verify
ASAN_LINK = @mkdir -p $(@D) && $(CC) $(LDFLAGS) $(ASAN_FLAGS) -o $@ $^ $(LDLIBS_ALL)
$(BUILD)/asan-bin/pinpostd: $(BUILD)/asan/programs/pinpostd.o \
    $(call layer_libs,asan,$(PINPOSTD_LAYERS))
	$(ASAN_LINK)
$(BUILD)/asan-bin/pinpost-gen: $(BUILD)/asan/programs/pinpost-gen.o \
    $(call layer_libs,asan,$(GEN_LAYERS))
	$(ASAN_LINK)
$(BUILD)/asan-bin/pinpost-verify: $(BUILD)/asan/programs/pinpost-verify.o \
    $(call layer_libs,asan,$(VERIFY_LAYERS))
	$(ASAN_LINK)

$(BUILD)/unit/%: test/unit/%.c $(BUILD)/libpinpost-asan.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ASAN_FLAGS) -Itest/unit -o $@ $< $(BUILD)/libpinpost-asan.a \
	    $(LDLIBS_ALL) $$($(PKG_CONFIG) --libs cmocka)

# ---- dependencies ----

# Everything a fresh Debian machine needs: build libraries, servers for the tests,
# the Kafka broker jars (Maven) and the Python test tools (virtualenv).
deps: deps-system kafka-jars venv

deps-system:
	./scripts/install-deps

kafka-jars: $(KAFKA_LIBS)/.done

$(KAFKA_LIBS)/.done: test/kafka/pom.xml
	mvn -B -q -f test/kafka/pom.xml -Dkafka.libs.dir=$(abspath $(KAFKA_LIBS)) \
	    dependency:copy-dependencies
	touch $@

venv: $(VENV)/.done

$(VENV)/.done: test/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -r test/requirements.txt
	touch $@

# ---- running ----

# The demo: built-in data, an in-process Kafka cluster, 20 posts at the default
# random delays (0-2 s), then a report.
demo: deps-system all
	$(BUILD)/pinpostd --demo --count 20 --report -

# ---- tests ----

test: deps all
	$(MAKE) format-check
	$(MAKE) test-wipe
	$(MAKE) test-unit
	$(MAKE) test-fuzz-replay
	$(MAKE) test-integration
	$(MAKE) test-system
	$(MAKE) test-trixie

# Secrets are still erased in the optimised objects (the compiler may drop a memset).
test-wipe: all
	./scripts/check-wipe $(BUILD)

test-unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

# Every corpus input (the seeds and every crash ever found) through the harnesses, built
# with gcc and the sanitizers.
$(BUILD)/fuzz-replay/fuzz_%: test/fuzz/fuzz_%.c test/fuzz/replay.c $(BUILD)/libpinpost-asan.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ASAN_FLAGS) -Itest/fuzz -o $@ $< test/fuzz/replay.c \
	    $(BUILD)/libpinpost-asan.a $(LDLIBS_ALL)

test-fuzz-replay: $(FUZZ_REPLAY_BINS)
	@set -e; for f in $(FUZZERS); do $(BUILD)/fuzz-replay/fuzz_$$f test/fuzz/corpus/$$f; done

# Coverage-guided fuzzing with libFuzzer (clang), FUZZ_SECONDS per harness; new inputs
# go to build/fuzz/corpus-NAME (merge the interesting ones into test/fuzz/corpus/NAME).
$(BUILD)/fuzz/fuzz_%: test/fuzz/fuzz_%.c $(LIB_SRCS)
	@mkdir -p $(@D)
	clang -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE $(INCLUDES) \
	    -Itest/fuzz $(PKG_CFLAGS) -o $@ $< $(LIB_SRCS) $(LDLIBS_ALL)

fuzz:
	./scripts/install-deps --fuzz
	$(MAKE) $(FUZZERS:%=$(BUILD)/fuzz/fuzz_%)
	@set -e; for f in $(FUZZERS); do \
	    mkdir -p $(BUILD)/fuzz/corpus-$$f; \
	    $(BUILD)/fuzz/fuzz_$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	        $(BUILD)/fuzz/corpus-$$f test/fuzz/corpus/$$f 2>&1 | grep -E "stat::number_of_executed_units|ERROR|SUMMARY" ; \
	done

# The programs under test are the sanitizer builds; every report lands in
# $(BUILD)/sanitizer-logs, and the tier fails when any does (conftest.py).
SANITIZER_LOGS := $(abspath $(BUILD))/sanitizer-logs
test-integration: all $(ASAN_BINS) kafka-jars venv
	rm -rf $(SANITIZER_LOGS) && mkdir -p $(SANITIZER_LOGS)
	PINPOSTD_BUILD=$(abspath $(BUILD)) PINPOSTD_BIN=$(abspath $(BUILD))/asan-bin \
	KAFKA_LIBS=$(abspath $(KAFKA_LIBS)) SANITIZER_LOGS=$(SANITIZER_LOGS) \
	ASAN_OPTIONS=log_path=$(SANITIZER_LOGS)/asan:detect_leaks=1:abort_on_error=0 \
	LSAN_OPTIONS=suppressions=$(abspath test/lsan.supp):print_suppressions=0 \
	UBSAN_OPTIONS=log_path=$(SANITIZER_LOGS)/ubsan:print_stacktrace=1:halt_on_error=1 \
	    $(VENV)/bin/python -m pytest -v $(or $(PYTEST_ARGS),test/integration)

# The lifecycle property test alone, longer: LIFECYCLE_SEEDS random schedules from a
# fresh base seed (a failure prints its seed; replay one with LIFECYCLE_SEED=S).
LIFECYCLE_SEEDS ?= 50
LIFECYCLE_SEED_BASE ?= random
test-lifecycle:
	LIFECYCLE_SEEDS=$(LIFECYCLE_SEEDS) LIFECYCLE_SEED_BASE=$(LIFECYCLE_SEED_BASE) \
	    $(MAKE) test-integration PYTEST_ARGS=test/integration/test_lifecycle.py

# ---- librdkafka versions (trixie) ----

# Debian 13's librdkafka (2.8.0, with KIP-368 SASL re-authentication) next to the host's
# (Debian 12: 2.0.2, without): pinpostd built and its unit tier run in a trixie container
# (localhost/pp-trixie-build:<hash of test/trixie/Containerfile>), then
# test/integration/test_reauth.py with both builds against a broker that ends MSK IAM
# sessions every 10 s. SKIPPED (a failure with CI=true) when podman cannot run here.
.PHONY: test-trixie
test-trixie: all $(ASAN_BINS) kafka-jars venv
	./test/trixie/run $(BUILD)

# ---- benchmarks (measurements, not tests) ----

# Full: 200 000 posts per run, 3 interleaved rounds; add BENCH_ARGS=--huge for 10M rows,
# BENCH_ARGS=--long for the 10-minute default-delay run.
bench: deps all
	PINPOSTD_BUILD=$(abspath $(BUILD)) KAFKA_LIBS=$(abspath $(KAFKA_LIBS)) \
	    $(VENV)/bin/python bench/bench.py $(BENCH_ARGS)

bench-quick: deps all
	PINPOSTD_BUILD=$(abspath $(BUILD)) KAFKA_LIBS=$(abspath $(KAFKA_LIBS)) \
	    $(VENV)/bin/python bench/bench.py --quick $(BENCH_ARGS)

# Latency at equal rate: pinpostd and kafka-producer-perf-test at 25/50/75% of pinpostd's
# maximum (about 3 minutes); LATENCY_ARGS="--duration 60 --rounds 3" for steadier tails.
bench-latency: deps all
	PINPOSTD_BUILD=$(abspath $(BUILD)) KAFKA_LIBS=$(abspath $(KAFKA_LIBS)) \
	    $(VENV)/bin/python bench/latency.py $(LATENCY_ARGS)

# Per-pod figures for deploy/kubernetes' resources and docs/scaling.md (about 4 minutes):
# PODS_ARGS="--rows 1000000" adds a big table.
bench-pods: deps all
	PINPOSTD_BUILD=$(abspath $(BUILD)) KAFKA_LIBS=$(abspath $(KAFKA_LIBS)) \
	    $(VENV)/bin/python bench/pod_sizing.py $(PODS_ARGS)

# An hour at 500 posts/s, RSS sampled every 10 s: SOAK_ARGS="--seconds N --rate R".
soak: deps all
	PINPOSTD_BUILD=$(abspath $(BUILD)) KAFKA_LIBS=$(abspath $(KAFKA_LIBS)) \
	    $(VENV)/bin/python bench/soak.py $(SOAK_ARGS)

# ---- Debian package ----

# $(BUILD)/deb/pinpostd_<version>_<arch>.deb from debian/ with dpkg-buildpackage, in a copy
# of the working tree under $(BUILD)/deb/src (nothing written outside $(BUILD)), installing
# through `make install`; lintian's verdict is printed and a warning fails.
deb:
	./scripts/build-deb $(BUILD)

# ---- system tier (systemd as PID 1) ----

# The .deb installed with apt-get in a bookworm container running systemd
# (localhost/pp-sys-image:<hash of the base, test/system/Containerfile and the .deb>), the
# shipped units driven with systemctl against the harness's MariaDB and Kafka on loopback
# (test/system/). SKIPPED loudly (a failure with CI=true) when podman cannot run here.
# PINPOSTD_DEB=FILE tests another package.
.PHONY: test-system
test-system: deb kafka-jars venv
	PINPOSTD_BUILD=$(abspath $(BUILD)) KAFKA_LIBS=$(abspath $(KAFKA_LIBS)) \
	    $(VENV)/bin/python -m pytest -v -p no:cacheprovider --durations=0 \
	    $(or $(PYTEST_ARGS),test/system)

# ---- container image ----

# localhost/pinpostd:<version> and :latest from the Containerfile (docs/containers.md),
# built by podman from localhost/pinpostd-base:bookworm (bootstrapped from Debian's
# packages by scripts/container: no registry needed). IMAGE=NAME for another name.
# The integration tier builds and tests it (test/integration/test_image.py).
IMAGE ?= localhost/pinpostd
PP_VERSION := $(shell sed -n 's/^\#define PP_VERSION "\(.*\)"/\1/p' include/core/pp_version.h)
.PHONY: image
image:
	./scripts/container image $(IMAGE):$(PP_VERSION) $(IMAGE):latest
	@./scripts/container podman image inspect --format \
	    '{{index .RepoTags 0}}: {{.Size}} bytes, user {{.Config.User}}' $(IMAGE):$(PP_VERSION)

# ---- install ----

SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
MANDIR ?= $(PREFIX)/share/man

# Configuration files are never overwritten: an operator's edits survive upgrades.
# Secrets (credentials, client.properties) get mode 0600.
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(SYSTEMDUNITDIR) \
	    $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(SYSCONFDIR)/pinpostd
	install -m 0755 $(BUILD)/pinpostd $(BUILD)/pinpost-gen $(BUILD)/pinpost-verify \
	    $(DESTDIR)$(PREFIX)/bin/
	for u in systemd/pinpostd.service systemd/pinpostd@.service; do \
	    sed 's|/usr/local/bin/pinpostd|$(PREFIX)/bin/pinpostd|' $$u > $(DESTDIR)$(SYSTEMDUNITDIR)/$$(basename $$u); \
	    chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/$$(basename $$u); \
	done
	install -m 0644 docs/man/man8/pinpostd.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 docs/man/man5/pinpostd.yaml.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 docs/man/man1/pinpost-gen.1 docs/man/man1/pinpost-verify.1 \
	    $(DESTDIR)$(MANDIR)/man1/
	[ -e $(DESTDIR)$(SYSCONFDIR)/pinpostd/pinpostd.yaml ] || \
	    install -m 0644 etc/pinpostd.yaml $(DESTDIR)$(SYSCONFDIR)/pinpostd/
	for f in db_creds.yaml client.properties; do \
	    [ -e $(DESTDIR)$(SYSCONFDIR)/pinpostd/$$f ] || \
	        install -m 0600 etc/$$f $(DESTDIR)$(SYSCONFDIR)/pinpostd/; \
	done

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/pinpostd $(DESTDIR)$(PREFIX)/bin/pinpost-gen \
	    $(DESTDIR)$(PREFIX)/bin/pinpost-verify \
	    $(DESTDIR)$(SYSTEMDUNITDIR)/pinpostd.service $(DESTDIR)$(SYSTEMDUNITDIR)/pinpostd@.service \
	    $(DESTDIR)$(MANDIR)/man8/pinpostd.8 $(DESTDIR)$(MANDIR)/man5/pinpostd.yaml.5 \
	    $(DESTDIR)$(MANDIR)/man1/pinpost-gen.1 $(DESTDIR)$(MANDIR)/man1/pinpost-verify.1

clean:
	rm -rf $(BUILD)/obj $(BUILD)/asan $(BUILD)/asan-bin $(BUILD)/unit $(BUILD)/fuzz \
	    $(BUILD)/fuzz-replay $(BUILD)/*.a $(BUILD)/pinpostd \
	    $(BUILD)/pinpost-gen $(BUILD)/pinpost-verify

# clang-format 14 (Debian 12's), pinned: another version formats some lines differently.
CLANG_FORMAT ?= clang-format-14
FORMAT_FILES = $(wildcard src/*/*.c include/*/*.h test/unit/*.[ch] test/fuzz/*.[ch])
format:
	$(CLANG_FORMAT) -i $(FORMAT_FILES)

format-check:
	@$(CLANG_FORMAT) --dry-run --Werror $(FORMAT_FILES) || \
	    { echo "format-check: run 'make format' (.clang-format, $(CLANG_FORMAT))"; exit 1; }
	@echo "format-check: every C file is formatted"

-include $(wildcard $(BUILD)/obj/*/*.d $(BUILD)/asan/*/*.d $(BUILD)/unit/*.d $(BUILD)/fuzz-replay/*.d)
