# streamext — PGXS build.
#
#   make / make install     build and install the extension into the server's PostgreSQL
#   make test               install dependencies, build, install into a private copy of
#                           PostgreSQL, run pg_regress (sql/ -> expected/) and every
#                           integration test in test/integration/; ends with "N passed, N failed"
#   make demo               stream truck telemetry through an embedded broker into a throwaway
#                           cluster and show what streamext does (KAFKA_BROKERS=host:port for a real Kafka)
#   make bench              benchmarks in test/bench/ (long; not part of make test)
#   make check-pgsuite      PostgreSQL's own regression suite on heap and on versioned_columnar,
#                           compared run against run (test/pgsuite/); ends with "N passed, N failed"

EXTENSION  = streamext
EXTVERSION = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" $(EXTENSION).control)

# Component order matters for the SQL script: a component may only refer to
# objects of the components before it.
COMPONENTS = common ingest stream columnar pipeline monitor

MODULE_big = streamext
SRCS       = src/streamext.c $(foreach c,$(COMPONENTS),$(sort $(wildcard src/$(c)/*.c)))
OBJS       = $(SRCS:.c=.o)
SQL_SRCS   = src/streamext.sql $(foreach c,$(COMPONENTS),$(sort $(wildcard src/$(c)/*.sql)))
EXT_SCRIPT = $(EXTENSION)--$(EXTVERSION).sql

DATA_built = $(EXT_SCRIPT)
DATA       = $(sort $(wildcard src/upgrade/$(EXTENSION)--*--*.sql))

RDKAFKA_CFLAGS := $(shell pkg-config --cflags rdkafka 2>/dev/null)
RDKAFKA_LIBS   := $(shell pkg-config --libs rdkafka 2>/dev/null || echo -lrdkafka)
ZSTD_LIBS      := $(shell pkg-config --libs libzstd 2>/dev/null || echo -lzstd)
CURL_CFLAGS    := $(shell pkg-config --cflags libcurl 2>/dev/null)
CURL_LIBS      := $(shell pkg-config --libs libcurl 2>/dev/null || echo -lcurl)

PG_CPPFLAGS = -I$(srcdir)/src $(RDKAFKA_CFLAGS) $(CURL_CFLAGS)
SHLIB_LINK  = $(RDKAFKA_LIBS) $(ZSTD_LIBS) $(CURL_LIBS)

REGRESS      = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --load-extension=$(EXTENSION)

EXTRA_CLEAN = results regression.diffs regression.out tmp_check log

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifeq ($(PGXS),)
# No server development files yet: only the targets that install them work.
all install:
	@echo "pg_config not found: run 'make test' or 'make demo' (they install what is missing), or install postgresql-server-dev-15" >&2; exit 1
else
include $(PGXS)
endif

# PGXS tracks no header dependencies; rebuild everything when any header changes.
$(OBJS): $(wildcard src/*.h src/*/*.h)

$(EXT_SCRIPT): $(SQL_SRCS) $(EXTENSION).control Makefile
	cat $(SQL_SRCS) > $@

.PHONY: test demo bench tools format check-pgsuite
test:
	bash test/run.sh

demo:
	bash test/demo.sh

bench:
	bash test/bench/run.sh

check-pgsuite:
	bash test/pgsuite/run.sh

tools:
	$(MAKE) -C test/tools

format:
	clang-format -i $(SRCS) $(wildcard src/*.h src/*/*.h)
