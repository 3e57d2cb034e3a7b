// The one main() of rwkv_bench (bench/*.cpp link into one program).
#include <benchmark/benchmark.h>

BENCHMARK_MAIN();
