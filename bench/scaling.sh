#!/usr/bin/env bash
# bench/scaling.sh: thread scaling of the multi-threaded native benchmarks, hakmem against every installed peer.
#
#   bench/scaling.sh [--threads 1,2,4,8,16] [--rounds N] [--workloads a,b] [--build DIR] [--quick]
#
# It needs only bash, coreutils and what `make` builds (the bench binaries, runstat, libhakmem_preload.so), not Bun:
# the machines with many cores that a thread curve needs may have no Bun. `bun bench/scaling.ts` runs it and turns its
# records into tables; given a records file made elsewhere (--from), it only makes the tables.
#
# Work grows with the threads (each thread, or each producer/consumer pair, does the same work at every count), so a
# flat curve is no scaling and a line rising with the threads is perfect scaling. Every round runs each thread count
# once for every allocator, in an order rotated each round, so drift on the machine falls on all of them alike.
#
# Output on stdout, one line per run (tab-separated), after '#' lines that describe the machine:
#   run <workload> <threads> <allocator> <round> <ops_per_s> <maxrss_kb>
#   skip <allocator> <reason>                   a peer that is not installed
#   fail <workload> <threads> <allocator> <round> <why>
# Peers are looked for in BENCH_PEER_DIRS (colon-separated) when it is set, else in the Debian library directories.
# Exit status: 0 when every run succeeded, 1 when one failed, 2 for bad arguments.
set -u

args="$*"
root=$(cd "$(dirname "$0")/.." && pwd)
build="$root/build"
threads=""
rounds=3
workloads="server_handoff,producer_consumer,pass_random,mid_large_mt"
quick=0
run_timeout=120

usage() {
  sed -n '4p' "$0" | sed 's/^# *//' >&2
  exit 2
}

while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads=${2:-}; shift 2 || usage ;;
    --rounds) rounds=${2:-}; shift 2 || usage ;;
    --workloads) workloads=${2:-}; shift 2 || usage ;;
    --build) build=${2:-}; shift 2 || usage ;;
    --quick) quick=1; shift ;;
    -h|--help) usage ;;
    *) echo "scaling.sh: unknown argument '$1'" >&2; usage ;;
  esac
done

cores=$(nproc 2>/dev/null || echo 1)
if [ -z "$threads" ]; then
  threads=1
  t=2
  while [ "$t" -le "$cores" ]; do threads="$threads,$t"; t=$((t * 2)); done
fi
case "$rounds" in ''|*[!0-9]*|0) echo "scaling.sh: --rounds wants a whole number of at least 1, not '$rounds'" >&2; exit 2 ;; esac
for t in ${threads//,/ }; do
  case "$t" in ''|*[!0-9]*|0) echo "scaling.sh: --threads wants whole numbers from 1 to 64, not '$t'" >&2; exit 2 ;; esac
  [ "$t" -le 64 ] || { echo "scaling.sh: --threads wants whole numbers from 1 to 64, not '$t'" >&2; exit 2; }
done
for w in ${workloads//,/ }; do
  case "$w" in
    server_handoff|producer_consumer|pass_random|mid_large_mt) ;;
    *) echo "scaling.sh: unknown workload '$w' (server_handoff, producer_consumer, pass_random, mid_large_mt)" >&2; exit 2 ;;
  esac
done
for f in runstat libhakmem_preload.so bench_server_handoff bench_producer_consumer bench_pass_random bench_mid_large_mt; do
  [ -e "$build/$f" ] || { echo "scaling.sh: $build/$f is missing; run make first" >&2; exit 2; }
done

# The argument vector of a workload at a thread count; empty when the count does not apply.
# quick divides the work by 10 (for tests and a first look).
argv_of() {
  local w=$1 t=$2 k=1
  [ "$quick" = 1 ] && k=10
  case "$w" in
    # larson-like: every thread replaces blocks of 8-1024 B in its table, and the tables move on each round
    server_handoff) echo "$build/bench_server_handoff $t $((1000 / k)) 10000 5000 42" ;;
    # all frees remote: t/2 producer/consumer pairs; one thread alone has no partner
    producer_consumer) [ $((t % 2)) -eq 0 ] && echo "$build/bench_producer_consumer $((t / 2)) $((2000000 / k)) 42" ;;
    # rptest-like: 16 B-16 KiB blocks passed between the threads; it needs two
    pass_random) [ "$t" -ge 2 ] && echo "$build/bench_pass_random $t $((1000000 / k)) 42" ;;
    # the seeds' 8-34 KiB workload, all frees local
    mid_large_mt) echo "$build/bench_mid_large_mt $t $((5000000 / k)) 2048 42" ;;
  esac
}

multiarch="$(uname -m)-linux-gnu"
peer_dirs=${BENCH_PEER_DIRS-/usr/lib/$multiarch:/usr/local/lib:/usr/lib:/lib/$multiarch}
# The shortest file name in the peer directories matching a pattern: the soname link before the versioned file.
find_peer() {
  local pattern=$1 dir found
  local -a dirs
  IFS=: read -r -a dirs <<< "$peer_dirs"
  for dir in "${dirs[@]}"; do
    [ -n "$dir" ] && [ -d "$dir" ] || continue
    found=$(ls -1 "$dir" | grep -E "^$pattern" | awk '{ print length($0), $0 }' | sort -n | head -1 | cut -d' ' -f2-)
    [ -n "$found" ] && { echo "$dir/$found"; return 0; }
  done
  return 1
}

names="hakmem glibc"
declare -A lib=([hakmem]="$build/libhakmem_preload.so" [glibc]="")
for spec in 'mimalloc:libmimalloc\.so\.2' 'jemalloc:libjemalloc\.so\.2' 'tcmalloc:libtcmalloc_minimal\.so\.4'; do
  name=${spec%%:*}
  if path=$(find_peer "${spec#*:}"); then
    names="$names $name"
    lib[$name]=$path
  else
    echo "skip $name not installed; apt-get install libmimalloc2.0 libjemalloc2 libtcmalloc-minimal4"
  fi
done

echo "# cores=$cores kernel=$(uname -r) cpu=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//')"
echo "# glibc=$(getconf GNU_LIBC_VERSION 2>/dev/null | cut -d' ' -f2) date=$(date -u +%Y-%m-%dT%H:%M:%SZ) threads=$threads rounds=$rounds quick=$quick"
echo "# args $args"
for name in $names; do echo "# lib $name ${lib[$name]:-(system)}"; done

report=$(mktemp)
trap 'rm -f "$report"' EXIT
failed=0
set -- $names
count=$#
for ((r = 1; r <= rounds; r++)); do
  for w in ${workloads//,/ }; do
    for t in ${threads//,/ }; do
      cmd=$(argv_of "$w" "$t") || continue
      [ -n "$cmd" ] || continue
      for ((i = 0; i < count; i++)); do
        # rotate the order each round and each thread count
        idx=$(( (i + r + t) % count + 1 ))
        name=${!idx}
        preload=()
        [ -n "${lib[$name]}" ] && preload=(--preload "${lib[$name]}")
        : > "$report" # a run that leaves no report must not be read as the last one's
        out=$(timeout "$run_timeout" "$build/runstat" "${preload[@]}" --report "$report" $cmd 2>&1)
        status=$?
        ops=$(printf '%s\n' "$out" | sed -n 's/^Throughput = \([0-9.eE+]*\) ops\/s.*/\1/p' | head -1)
        rss=$(sed -n 's/.* maxrss_kb=\([0-9]*\).*/\1/p' "$report" | tail -1)
        if [ "$status" -ne 0 ] || [ -z "$ops" ] || [ -z "$rss" ]; then
          why=$(printf '%s' "$out" | tail -1 | tr '\t' ' ')
          [ "$status" -eq 124 ] && why="timed out after ${run_timeout}s"
          echo "fail	$w	$t	$name	$r	exit $status: $why"
          failed=1
        else
          printf 'run\t%s\t%s\t%s\t%s\t%s\t%s\n' "$w" "$t" "$name" "$r" "$ops" "$rss"
        fi
      done
    done
  done
done
exit "$failed"
