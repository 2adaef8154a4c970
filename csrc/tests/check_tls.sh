#!/bin/sh
# The static TLS budget of a library that is dlopened (libhakmem.so, by
# bun:ffi and Deno.dlopen). Its thread-local storage is initial-exec (the
# Makefile's -ftls-model, for malloc's speed), which a library loaded after
# start-up can only take from the static TLS surplus glibc reserves when the
# program starts: 1152 bytes by default, for all such libraries together
# (glibc's tst-tls-ie). Past it dlopen fails ("cannot allocate memory in
# static TLS block"). Fails when the library's TLS segment needs more than
# LIMIT bytes (default 768: a third of the reserve left to other libraries).
#   usage: check_tls.sh LIBRARY [LIMIT]
set -eu
lib=$1
limit=${2:-768}
READELF=${READELF:-readelf}
# the TLS program header: Type Offset VirtAddr PhysAddr FileSiz MemSiz Flg Align
memsz=$($READELF -lW "$lib" | awk '$1 == "TLS" { print $6 }')
bytes=$((${memsz:-0}))
if [ "$bytes" -gt "$limit" ]; then
  echo "check_tls: $lib needs $bytes bytes of static TLS, more than $limit" \
    "(dlopen would fail once other libraries took the rest of glibc's 1152)" >&2
  exit 1
fi
echo "check_tls: $lib: $bytes bytes of static TLS (limit $limit)"
