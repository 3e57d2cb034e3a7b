#!/usr/bin/env bash
# compare_compilers.sh GCC_ORACLE CLANG_ORACLE
# Runs `digest` (every catalog kernel on seeded inputs, one hash per variant)
# with both binaries at every SIMD level this CPU has, and fails on any
# difference, printing the variants that differ; then requires both to write
# the same `vectors` file (every case with its float64 oracle).
set -euo pipefail
gcc_bin="$1"
clang_bin="$2"
[ -x "$clang_bin" ] || { echo "Clang build missing: $clang_bin"; exit 1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
levels=(scalar)
grep -q sse4_2 /proc/cpuinfo && levels+=(sse4.2)
grep -q avx2 /proc/cpuinfo && grep -q f16c /proc/cpuinfo && levels+=(avx2)
grep -q avx512bw /proc/cpuinfo && grep -q avx512vl /proc/cpuinfo && levels+=(avx512)
"$gcc_bin" --simd scalar --threads 1 digest > "$tmp/reference.txt"
n=$(wc -l < "$tmp/reference.txt")
[ "$n" -gt 0 ] || { echo "digest printed no kernels"; exit 1; }
status=0
for level in "${levels[@]}"; do
  for compiler in gcc clang; do
    bin="$gcc_bin"; [ "$compiler" = clang ] && bin="$clang_bin"
    "$bin" --simd "$level" --threads 2 digest > "$tmp/$compiler-$level.txt"
    if cmp -s "$tmp/reference.txt" "$tmp/$compiler-$level.txt"; then
      echo "OK   $compiler $level: $n kernel variants identical to gcc scalar"
    else
      echo "FAIL $compiler $level differs from gcc scalar:"
      diff "$tmp/reference.txt" "$tmp/$compiler-$level.txt" | head -20 || true
      status=1
    fi
  done
done
# The per-kernel vectors (inputs, outputs, float64 oracles, errors) too: the
# same file bytes from both builds.
"$gcc_bin" --threads 2 vectors --out "$tmp/gcc.h5" > /dev/null
"$clang_bin" --threads 2 vectors --out "$tmp/clang.h5" > /dev/null
if cmp -s "$tmp/gcc.h5" "$tmp/clang.h5"; then
  echo "OK   gcc and clang write identical kernel vectors ($(stat -c %s "$tmp/gcc.h5") bytes)"
else
  echo "FAIL gcc and clang kernel vectors differ: $(cmp "$tmp/gcc.h5" "$tmp/clang.h5" || true)"
  status=1
fi
exit $status
