# cptop — one non-recursive GNU Makefile.
#
#   make                    build everything into build/
#   make test               build and run the test suite (last line: N passed, N failed)
#   make SANITIZE=address,undefined test
#   make tsan               agent tests under ThreadSanitizer (own build dir)
#   make fuzz [FUZZ_SECONDS=60] [FUZZ_JOBS=2]  libFuzzer targets (clang), JOBS at a time;
#                           then the transport fuzz (t_transport.sh) as long
#   make bench              benchmarks, figures printed side by side
#   make install PREFIX=/usr/local   libcpagent, cpagent.h, cpagent.pc
#   make deps               install missing packages (scripts/deps.sh)
#   make demo               build and run the demo, with the dashboard
#   make demo-s3 / demo-pg  the same, checkpoints on S3 / results in PostgreSQL
#   V=1 shows commands; WERROR=1 turns warnings into errors.

CC       ?= cc
PREFIX   ?= /usr/local
BUILD    ?= build
SANITIZE ?=
comma    := ,
WERROR   ?=
FUZZ_SECONDS ?= 60
FUZZ_JOBS ?= 2

ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-7s %s\n' $(1) $(2);
endif

PKGS := jansson libcrypto libmicrohttpd
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null) \
              $(shell pkg-config --cflags libpq 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -ljansson -lcrypto -lmicrohttpd) -lm
# nng: only the interoperability test's peer (test_interop); no .pc on Debian
NNG_LIBS   := -lnng

WARN := -Wall -Wextra -Wshadow -Wpointer-arith -Wstrict-prototypes -Wmissing-prototypes \
        -Wformat=2 -Wvla -Wcast-align -Wundef -Wno-unused-parameter \
        -Wno-format-truncation
ifeq ($(WERROR),1)
WARN += -Werror
endif

OPT ?= -O2 -g
# Hidden by default: libcpagent.so exports only what cpagent.h declares.
CFLAGS_ALL := -std=c11 -D_GNU_SOURCE -fPIC -fvisibility=hidden $(OPT) $(WARN) $(PKG_CFLAGS) \
              -Iagent/include -Iprotocol -Idemo-job -Itui $(CFLAGS)
LDLIBS_ALL := $(PKG_LIBS) -lpthread $(LDLIBS)
# the demo job's libraries (librdkafka and libs3 ship no .pc for all uses: link by hand)
DEMO_LIBS := $(shell pkg-config --libs sqlite3 2>/dev/null || echo -lsqlite3) -lrdkafka -ls3 \
             $(shell pkg-config --libs libpq 2>/dev/null || echo -lpq)

ifneq ($(SANITIZE),)
CFLAGS_ALL += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS    += -fsanitize=$(SANITIZE)
BUILD      := $(BUILD)/san-$(subst $(comma),-,$(SANITIZE))
endif

OBJDIR := $(BUILD)/obj
BINDIR := $(BUILD)/bin
LIBDIR := $(BUILD)/lib
TESTDIR := $(BUILD)/tests

# libcpwire: the protocol (internal; cptop and the tests link it, and it is
# hidden inside libcpagent). libcpagent: the agent, what jobs link.
PROTO_SRC := $(wildcard protocol/*.c)
PROTO_OBJ := $(PROTO_SRC:%.c=$(OBJDIR)/%.o)
AGENT_SRC := $(wildcard agent/*.c)
LIB_SRC   := $(PROTO_SRC) $(AGENT_SRC)
LIB_OBJ   := $(LIB_SRC:%.c=$(OBJDIR)/%.o)

DEMO_LIB_SRC := $(wildcard demo-job/cpd_*.c)  # cpdemo.c is the binary's main
DEMO_LIB_OBJ := $(DEMO_LIB_SRC:%.c=$(OBJDIR)/%.o)
DEMO_LIB     := $(LIBDIR)/libcpdemo.a

TEST_LIB_SRC := $(wildcard tests/cpt_*.c)
TEST_LIB_OBJ := $(TEST_LIB_SRC:%.c=$(OBJDIR)/%.o)
TEST_SRC  := $(wildcard tests/test_*.c)
TEST_BIN  := $(TEST_SRC:tests/%.c=$(TESTDIR)/%)
# the transport fuzz test's hostile SP peer (tests/t_transport.sh)
SPFUZZ    := $(TESTDIR)/cpspfuzz

EXAMPLES  := $(BINDIR)/agent_hello
# the dashboard's curses-free parts (model, view, ui, link) are a library the
# tests link; cpt_term.c alone talks to curses
TUI_LIB_SRC := $(filter-out tui/cpt_term.c,$(wildcard tui/cpt_*.c))
TUI_LIB_OBJ := $(TUI_LIB_SRC:%.c=$(OBJDIR)/%.o)
TUI_LIB     := $(LIBDIR)/libcptui.a
CURSES_LIBS := $(shell pkg-config --libs ncursesw 2>/dev/null || echo -lncursesw -ltinfo)
# cptop's HTTP client (watching Flink, tui/cpt_http.c); the agent never links it
CURL_LIBS   := $(shell pkg-config --libs libcurl 2>/dev/null || echo -lcurl)
# recordings (tui/cpt_rec*.c): zstd chunks, zlib's crc32 (and codec, for comparison)
REC_LIBS  := -lzstd -lz
CPTOP     := $(BINDIR)/cptop
CPDEMO    := $(BINDIR)/cpdemo
BENCH_BIN := $(BINDIR)/cpbench
REST_BENCH := $(BINDIR)/cprestbench
SQLBENCH  := $(BINDIR)/cpsqlbench

WIRE_A := $(LIBDIR)/libcpwire.a
LIB_A  := $(LIBDIR)/libcpagent.a
LIB_SO := $(LIBDIR)/libcpagent.so

.PHONY: all test test-run check tsan fuzz fuzz-build bench install uninstall clean deps demo demo-s3 demo-pg help
.DEFAULT_GOAL := all

all: $(LIB_A) $(LIB_SO) $(CPTOP) $(CPDEMO) $(EXAMPLES) $(TEST_BIN) $(TESTDIR)/fake_agent \
     $(SPFUZZ) $(BENCH_BIN) $(REST_BENCH) $(SQLBENCH) $(BINDIR)/cprecbench $(BINDIR)/cpflinkbench

help:
	@sed -n '3,14p' Makefile | sed 's/^# \{0,1\}//'

$(OBJDIR)/%.o: %.c
	@mkdir -p $(dir $@)
	$(call msg,CC,$<)
	$(Q)$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(WIRE_A): $(PROTO_OBJ)
	@mkdir -p $(dir $@)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

# The static library is one relocatable object whose hidden symbols are made
# local, so a job linking it sees only cpa_* (and no clash with its own names).
$(LIB_A): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(call msg,AR,$@)
	$(Q)rm -f $@ $(OBJDIR)/cpagent.o && ld -r -o $(OBJDIR)/cpagent.o $^ && \
		objcopy --localize-hidden $(OBJDIR)/cpagent.o && ar rcs $@ $(OBJDIR)/cpagent.o

$(LIB_SO): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(call msg,LD,$@)
	$(Q)$(CC) -shared -Wl,-soname,libcpagent.so.0 $(LDFLAGS) -o $@ $^ $(LDLIBS_ALL)

# the cptop program: main and its modes (tui/cptop*.c), over the library
CPTOP_OBJ := $(patsubst %.c,$(OBJDIR)/%.o,tui/cptop.c $(wildcard tui/cptop_*.c))
$(CPTOP): $(CPTOP_OBJ) $(OBJDIR)/tui/cpt_term.o $(TUI_LIB) $(WIRE_A)
	@mkdir -p $(dir $@)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(CURSES_LIBS) $(CURL_LIBS) $(REC_LIBS) $(LDLIBS_ALL)

$(TUI_LIB): $(TUI_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

# The demo job is a job like any other: it links the agent alone.
$(CPDEMO): $(OBJDIR)/demo-job/cpdemo.o $(DEMO_LIB) $(LIB_A)
	@mkdir -p $(dir $@)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(DEMO_LIBS) $(LDLIBS_ALL)

$(BINDIR)/agent_hello: $(OBJDIR)/examples/agent_hello.o $(LIB_A)
	@mkdir -p $(dir $@)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_ALL)

$(BENCH_BIN): $(OBJDIR)/bench/cpbench.o $(OBJDIR)/bench/bench_util.o $(OBJDIR)/tests/cpt_sub.o $(LIB_A) $(WIRE_A)
	@mkdir -p $(dir $@)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_ALL)

$(REST_BENCH): $(OBJDIR)/bench/rest_bench.o $(OBJDIR)/bench/bench_util.o $(LIB_A) $(WIRE_A)
	@mkdir -p $(dir $@)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_ALL)

$(BINDIR)/cptuibench: $(OBJDIR)/bench/tuibench.o $(OBJDIR)/bench/bench_util.o $(TUI_LIB) $(WIRE_A)
	@mkdir -p $(dir $@)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(CURL_LIBS) $(REC_LIBS) $(LDLIBS_ALL)

$(BINDIR)/cprecbench: $(OBJDIR)/bench/rec_bench.o $(OBJDIR)/bench/rec_live.o $(OBJDIR)/bench/bench_util.o $(TUI_LIB) $(WIRE_A)
	@mkdir -p $(dir $@)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(CURL_LIBS) $(REC_LIBS) $(LDLIBS_ALL)

# the Flink translator's per-poll cost (bench/flink_bench.c)
$(BINDIR)/cpflinkbench: $(OBJDIR)/bench/flink_bench.o $(OBJDIR)/bench/bench_util.o $(TUI_LIB) $(WIRE_A)
	@mkdir -p $(dir $@)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(CURL_LIBS) $(REC_LIBS) $(LDLIBS_ALL)

$(DEMO_LIB): $(DEMO_LIB_OBJ)
	@mkdir -p $(dir $@)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(TESTDIR)/%: $(OBJDIR)/tests/%.o $(TEST_LIB_OBJ) $(TUI_LIB) $(DEMO_LIB) $(LIB_A) $(WIRE_A)
	@mkdir -p $(dir $@)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(DEMO_LIBS) $(CURL_LIBS) $(REC_LIBS) $(LDLIBS_ALL)

# test_interop plays nng's peers against ours (the wire format both speak)
$(TESTDIR)/test_interop: $(OBJDIR)/tests/test_interop.o $(TEST_LIB_OBJ) $(TUI_LIB) $(DEMO_LIB) \
                         $(LIB_A) $(WIRE_A)
	@mkdir -p $(dir $@)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(DEMO_LIBS) $(NNG_LIBS) $(CURL_LIBS) $(REC_LIBS) $(LDLIBS_ALL)

$(SPFUZZ): $(OBJDIR)/tests/fuzz/cpspfuzz.o $(WIRE_A)
	@mkdir -p $(dir $@)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_ALL)

# test_rest reaches the REST endpoint's internals, which the library hides:
# it links their objects itself, before the libraries they use.
REST_UNIT_OBJ := $(addprefix $(OBJDIR)/agent/,cpa_rest_route.o cpa_rest_hist.o cpa_rest_ops.o)
$(TESTDIR)/test_rest: $(OBJDIR)/tests/test_rest.o $(REST_UNIT_OBJ) $(TEST_LIB_OBJ) $(TUI_LIB) \
                      $(DEMO_LIB) $(LIB_A) $(WIRE_A)
	@mkdir -p $(dir $@)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(DEMO_LIBS) $(CURL_LIBS) $(REC_LIBS) $(LDLIBS_ALL)

# test_auth also checks the replay window's edges (cpa_replay_check), which
# libcpagent.a keeps to itself
$(TESTDIR)/test_auth: $(OBJDIR)/tests/test_auth.o $(OBJDIR)/agent/cpa_security.o $(TEST_LIB_OBJ) \
                      $(TUI_LIB) $(DEMO_LIB) $(LIB_A) $(WIRE_A)
	@mkdir -p $(dir $@)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(DEMO_LIBS) $(CURL_LIBS) $(REC_LIBS) $(LDLIBS_ALL)

# a job agent whose every string is hostile (tests/t_hostile.sh)
$(TESTDIR)/fake_agent: $(OBJDIR)/tests/fake_agent.o $(WIRE_A)
	@mkdir -p $(dir $@)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_ALL)

# T=name filters tests by substring; TIMEOUT=seconds per C test (default 60);
# TEST_JOBS=N script tests at a time (default 2: they mostly wait on the
# processes they drive).
# `make test` first makes sure the packages the suite needs are there
# (installing them as root, else naming the command), then builds in a fresh
# make, whose pkg-config lookups see them, and runs the suite.
TIMEOUT ?= 60
TEST_JOBS ?= 2
test:
	$(Q)scripts/deps.sh --for test
	$(Q)$(MAKE) --no-print-directory test-run

test-run: $(TEST_BIN) $(TESTDIR)/fake_agent $(SPFUZZ) $(EXAMPLES) $(CPTOP) $(CPDEMO)
	$(Q)BUILD=$(BUILD) CPT_TIMEOUT=$(TIMEOUT) TEST_JOBS=$(TEST_JOBS) tests/run.sh $(T)

check: test

# ThreadSanitizer build of the agent and its tests, in its own directory.
# gcc 12's TSan cannot map its shadow under high ASLR entropy: run without it.
TSAN_RUN := $(shell setarch $$(uname -m) -R true 2>/dev/null && echo setarch $$(uname -m) -R)
tsan:
	$(Q)$(MAKE) --no-print-directory BUILD=build/tsan OPT="-O1 -g" \
		CFLAGS="-fsanitize=thread" LDFLAGS="-fsanitize=thread" \
		build/tsan/tests/test_agent build/tsan/tests/test_agent_load build/tsan/tests/test_rest_live
	$(Q)BUILD=build/tsan TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" \
		$(TSAN_RUN) tests/run.sh test_

# libFuzzer targets, built with clang.
FUZZ_TARGETS := fuzz_decode fuzz_command fuzz_metadata fuzz_record fuzz_aggstate fuzz_flink \
                fuzz_rest fuzz_discovery fuzz_chanstate fuzz_flinkfeed fuzz_rec fuzz_pack
FUZZ_BIN := $(FUZZ_TARGETS:%=build/fuzz/%)
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
               $(PKG_CFLAGS) -Iagent/include -Iprotocol

# the protocol and the agent, compiled once for every target that links them
FUZZ_LIB := build/fuzz/libfuzzlib.a
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=build/fuzz/obj/%.o)
build/fuzz/obj/%.o: %.c $(wildcard protocol/*.h agent/*.h agent/include/*.h)
	@mkdir -p $(dir $@)
	$(call msg,CC,$@)
	$(Q)clang $(subst fuzzer$(comma),fuzzer-no-link$(comma),$(FUZZ_CFLAGS)) -c -o $@ $<
$(FUZZ_LIB): $(FUZZ_LIB_OBJ)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

build/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz_common.h tests/fuzz/fuzz_check.h $(FUZZ_LIB)
	@mkdir -p $(dir $@)
	$(call msg,FUZZ,$@)
	$(Q)clang $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_LIB) $(PKG_LIBS) -lpthread

# the demo job's parsers, each with the job's sources it needs (no agent, no protocol)
FUZZ_DEMO_fuzz_metadata := demo-job/cpd_metadata.c demo-job/cpd_storage_rc.c
FUZZ_DEMO_fuzz_record := demo-job/cpd_parse.c demo-job/cpd_verify.c
FUZZ_DEMO_fuzz_aggstate := demo-job/cpd_aggstate.c
FUZZ_DEMO_fuzz_chanstate := demo-job/cpd_chanstate.c
build/fuzz/fuzz_metadata build/fuzz/fuzz_record build/fuzz/fuzz_aggstate build/fuzz/fuzz_chanstate: build/fuzz/%: tests/fuzz/%.c $(wildcard demo-job/*.[ch])
	@mkdir -p $(dir $@)
	$(call msg,FUZZ,$@)
	$(Q)clang $(FUZZ_CFLAGS) -Idemo-job -o $@ $< $(FUZZ_DEMO_$*) $(PKG_LIBS)

# cptop's Flink feed: the protocol and the feed's own files (no curses, no curl)
FLINKFEED_SRC := $(wildcard tui/cpt_flink_feed*.c)
build/fuzz/fuzz_flinkfeed: tests/fuzz/fuzz_flinkfeed.c tests/fuzz/fuzz_common.h $(FUZZ_LIB) \
                           $(FLINKFEED_SRC) $(wildcard tui/cpt_flink_feed*.h protocol/*.h)
	@mkdir -p $(dir $@)
	$(call msg,FUZZ,$@)
	$(Q)clang $(FUZZ_CFLAGS) -Itui -o $@ $< $(FLINKFEED_SRC) $(FUZZ_LIB) $(PKG_LIBS) -lpthread

# the recording reader, with its codecs
# (the reader alone: cpt_rec_session.c is the recorder's policy, on the protocol)
REC_READER_SRC := $(filter-out tui/cpt_rec_session.c,$(wildcard tui/cpt_rec*.c))
build/fuzz/fuzz_rec: tests/fuzz/fuzz_rec.c tests/fuzz/fuzz_check.h $(wildcard tui/cpt_rec*.[ch])
	@mkdir -p $(dir $@)
	$(call msg,FUZZ,$@)
	$(Q)clang $(FUZZ_CFLAGS) -Itui -o $@ $< $(REC_READER_SRC) $(PKG_LIBS) $(REC_LIBS)

fuzz-build: $(FUZZ_BIN)

# The libFuzzer targets, then the transport fuzz (tests/t_transport.sh:
# cpspfuzz against live jobs and dashboards) for as long (make test: 15 s).
fuzz: $(FUZZ_BIN) $(SPFUZZ) $(EXAMPLES) $(CPTOP)
	$(Q)rc=0; tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_JOBS) $(FUZZ_TARGETS) || rc=1; \
	echo "fuzz: transport for $(FUZZ_SECONDS)s"; \
	if BUILD=$(BUILD) TRANSPORT_FUZZ_SECONDS=$(FUZZ_SECONDS) bash tests/t_transport.sh \
		>build/fuzz/transport.log 2>&1; then echo "fuzz: transport ok"; \
	else tail -40 build/fuzz/transport.log; echo "fuzz: transport FAILED"; rc=1; fi; \
	echo "transport: $$(tail -1 build/fuzz/transport.log)"; exit $$rc

$(SQLBENCH): $(OBJDIR)/bench/sqlbench.o
	@mkdir -p $(dir $@)
	$(call msg,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(DEMO_LIBS)

# The agent's figures, then the job's (bench/job_bench.sh: ceilings, checkpoint cost).
bench: $(BENCH_BIN) $(REST_BENCH) $(SQLBENCH) $(CPDEMO) $(CPTOP) $(BINDIR)/cptuibench $(TESTDIR)/test_sink_pg \
       $(BINDIR)/cprecbench $(BINDIR)/cpflinkbench
	$(Q)$(BENCH_BIN)
	$(Q)$(REST_BENCH)
	$(Q)BUILD=$(BUILD) bench/job_bench.sh
	$(Q)$(BINDIR)/cptuibench
	$(Q)$(BINDIR)/cprecbench
	$(Q)BUILD=$(BUILD) bench/tui_idle.sh
	$(Q)$(BINDIR)/cpflinkbench
	$(Q)BUILD=$(BUILD) bench/flink_bench.sh
	$(Q)BUILD=$(BUILD) bench/recovery_bench.sh
	$(Q)BUILD=$(BUILD) bench/pg_bench.sh
	$(Q)BUILD=$(BUILD) bench/s3_bench.sh

install: $(LIB_A) $(LIB_SO)
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 $(LIB_A) $(DESTDIR)$(PREFIX)/lib/libcpagent.a
	install -m 755 $(LIB_SO) $(DESTDIR)$(PREFIX)/lib/libcpagent.so.0
	ln -sf libcpagent.so.0 $(DESTDIR)$(PREFIX)/lib/libcpagent.so
	install -m 644 agent/include/cpagent.h $(DESTDIR)$(PREFIX)/include/cpagent.h
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(shell sed -n 's/^#define CPA_VERSION_STR "\(.*\)"/\1/p' agent/include/cpagent.h)|' \
		agent/cpagent.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/cpagent.pc

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/lib/libcpagent.a $(DESTDIR)$(PREFIX)/lib/libcpagent.so \
	      $(DESTDIR)$(PREFIX)/lib/libcpagent.so.0 $(DESTDIR)$(PREFIX)/include/cpagent.h \
	      $(DESTDIR)$(PREFIX)/lib/pkgconfig/cpagent.pc

deps:
	$(Q)scripts/deps.sh

demo:
	$(Q)scripts/demo.sh

# the same with checkpoints on S3 (an s3rver it starts) / results in PostgreSQL (its own cluster)
demo-s3:
	$(Q)scripts/demo.sh --s3

demo-pg:
	$(Q)scripts/demo.sh --pg

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
.SECONDARY:
