#!/usr/bin/env bash
# make install PREFIX=… gives a library, header and pkg-config file that a
# program outside the tree builds and runs against, shared and static.
. "$(dirname "$0")/lib.sh"
prefix=$T_TMP/prefix
# A plain build whatever this run uses (a sanitizer build cannot be linked by
# a plain cc, which is what a user of the installed library has).
check "make install" env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS \
  make -s --no-print-directory install PREFIX="$prefix" BUILD=build SANITIZE=
check "installed files" test -f "$prefix/include/cpagent.h" -a -f "$prefix/lib/libcpagent.a" \
  -a -f "$prefix/lib/libcpagent.so.0" -a -f "$prefix/lib/pkgconfig/cpagent.pc"
# The library's whole interface is cpagent.h: nothing else is exported.
check "libcpagent.so exports only cpa_*" bash -c "nm -D --defined-only $prefix/lib/libcpagent.so.0 | grep -q ' T cpa_emit' && [ -z \"\$(nm -D --defined-only $prefix/lib/libcpagent.so.0 | awk 'NF >= 3 && \$2 ~ /^[TDBRVWi]\$/ && \$3 !~ /^cpa_/')\" ]"
check "libcpagent.a defines only cpa_* globals" bash -c "nm -g --defined-only $prefix/lib/libcpagent.a | grep -q ' T cpa_emit' && [ -z \"\$(nm -g --defined-only $prefix/lib/libcpagent.a | awk 'NF >= 3 && \$2 ~ /^[TDBRVWi]\$/ && \$3 !~ /^cpa_/')\" ]"
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
check "pkg-config knows cpagent" bash -c "pkg-config --modversion cpagent | grep -qE '^[0-9]+\.[0-9]+'"
check "example builds against the installed shared library" \
  bash -c "cc -std=c11 -o $T_TMP/hello_so examples/agent_hello.c \$(pkg-config --cflags --libs cpagent)"
check "example builds against the installed static library" \
  bash -c "cc -std=c11 -o $T_TMP/hello_a examples/agent_hello.c \$(pkg-config --static --cflags cpagent) $prefix/lib/libcpagent.a \$(pkg-config --static --libs cpagent | sed 's/-lcpagent//')"
export XDG_RUNTIME_DIR=$T_TMP
check "the shared build runs" bash -c "LD_LIBRARY_PATH=$prefix/lib $T_TMP/hello_so --seconds 1 --interval-ms 200 | grep -q 'dropped 0'"
check "the static build runs" bash -c "$T_TMP/hello_a --seconds 1 --interval-ms 200 | grep -q 'dropped 0'"
t_done
