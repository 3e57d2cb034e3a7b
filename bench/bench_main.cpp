// The one main() of rwkv_bench (every bench/*.cpp is linked into it): other
// benchmark files register cases only, without BENCHMARK_MAIN.
#include <benchmark/benchmark.h>

BENCHMARK_MAIN();
