// The format codecs' catalog entries: one quantize and one dequantize variant
// per format, each with an order string and a fast, deterministic sample.
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>

#include "reference/kernel_catalog.h"

namespace rwkv {
namespace {

TEST(FormatCatalog, OneEncoderAndOneDecoderPerFormat) {
  std::set<std::string> seen;
  for (const KernelVariant& v : kernel_catalog()) {
    if (v.name != "quantize" && v.name != "dequantize") continue;
    EXPECT_EQ(v.activation, "-");
    EXPECT_FALSE(v.order.empty()) << v.name << " " << v.format;
    EXPECT_TRUE(seen.insert(v.name + " " + v.format).second) << "duplicate " << v.name << " " << v.format;
  }
  for (const char* f : {"fp16", "q4_k", "q6_k", "q8_0", "int8", "nf4", "sf4"}) {
    EXPECT_TRUE(seen.count(std::string("quantize ") + f)) << f;
    EXPECT_TRUE(seen.count(std::string("dequantize ") + f)) << f;
  }
  EXPECT_EQ(seen.size(), 14u);
}

TEST(FormatCatalog, SamplesAreDeterministicSeededAndFast) {
  for (const KernelVariant& v : kernel_catalog()) {
    if (v.name != "quantize" && v.name != "dequantize") continue;
    const std::vector<uint8_t> a = v.sample(1);  // the first call also pays for page faults and lazy binding
    const auto start = std::chrono::steady_clock::now();
    const std::vector<uint8_t> again = v.sample(1);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    EXPECT_FALSE(a.empty()) << v.name << " " << v.format;
    EXPECT_EQ(again, a) << v.name << " " << v.format;
    EXPECT_NE(v.sample(2), a) << v.name << " " << v.format;
    EXPECT_LT(ms, 20.0) << v.name << " " << v.format;
    std::printf("[ sample   ] %-10s %-5s %6zu bytes %.2f ms  digest %016llx\n", v.name.c_str(), v.format.c_str(),
                a.size(), ms, static_cast<unsigned long long>(fnv1a64(a)));
  }
}

}  // namespace
}  // namespace rwkv
