#!/bin/sh
# The layer check: every C file calls only files below it in the layer list at
# the top of csrc/internal.h, so the files form no cycle and the list is the
# order of the code. Reads each file's object (built alone, as make layers
# does): the symbols it defines and those it uses; a use of a symbol defined
# by a file later in the list fails, naming both files and the symbol. The list
# must name every csrc/*.c exactly once.
#   usage: check_layers.sh OBJDIR [INTERNAL_H] [CSRC]
set -eu
objdir=$1
header=${2:-csrc/internal.h}
csrc=${3:-csrc}
NM=${NM:-nm}

# The list: " *   name.c   description" lines after "Layers, bottom up".
order=$(awk '/Layers, bottom up/ { on = 1; next }
             on && /\*\// { exit }
             on && match($0, /^ \*   [a-z_]+\.c /) { f = substr($0, 6); sub(/ .*/, "", f); print f }' "$header")
[ -n "$order" ] || { echo "check_layers: no layer list found in $header" >&2; exit 1; }

status=0
listed=$(printf '%s\n' "$order" | sort)
present=$(cd "$csrc" && ls *.c | sort)
dups=$(printf '%s\n' "$order" | sort | uniq -d)
if [ -n "$dups" ]; then echo "check_layers: listed twice in $header: $dups" >&2; status=1; fi
missing=$(printf '%s\n' "$present" | comm -23 - "$(printf '%s\n' "$listed" | uniq > "$objdir/.listed"; echo "$objdir/.listed")")
gone=$(printf '%s\n' "$listed" | uniq | comm -23 - "$(printf '%s\n' "$present" > "$objdir/.present"; echo "$objdir/.present")")
for f in $missing; do echo "check_layers: csrc/$f is not in the layer list of $header" >&2; status=1; done
for f in $gone; do echo "check_layers: $header lists $f, which does not exist in $csrc/" >&2; status=1; done

# One line per symbol: rank file D|U name.
rank=0
for f in $order; do
  rank=$((rank + 1))
  o="$objdir/${f%.c}.o"
  [ -f "$o" ] || { echo "check_layers: $o missing (make layers builds it)" >&2; status=1; continue; }
  $NM --defined-only "$o" | awk -v r=$rank -v f="$f" '$2 ~ /^[A-Z]$/ { print r, f, "D", $3 }'
  $NM -u "$o" | awk -v r=$rank -v f="$f" '{ print r, f, "U", $NF }'
done > "$objdir/.symbols"

# A symbol belongs to the lowest file that defines it (a weak definition below,
# replaced by a stronger one above, is the lower file's: preload.c's policy).
awk '
  $3 == "D" { if (!($4 in owner) || $1 < rank[$4]) { owner[$4] = $2; rank[$4] = $1 } next }
  { use[++n] = $0 }
  END {
    bad = 0
    for (i = 1; i <= n; i++) {
      split(use[i], u, " ")
      if ((u[4] in owner) && rank[u[4]] > u[1]) {
        printf "check_layers: csrc/%s uses %s of csrc/%s, a layer above it\n", u[2], u[4], owner[u[4]]
        bad = 1
      }
    }
    exit bad
  }' "$objdir/.symbols" || status=1
if [ $status -eq 0 ]; then
  echo "check_layers: $(printf '%s\n' "$order" | wc -l) files, every call goes down the list in $header"
fi
exit $status
