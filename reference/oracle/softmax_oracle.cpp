#include "reference/oracle/softmax_oracle.h"

#include <cmath>
#include <limits>

namespace rwkv::oracle {

std::vector<double> softmax(const Operand& x) {
  const int64_t len = x.shape[0];
  std::vector<double> y(size_t(x.numel()));
  for (int64_t base = 0; base < x.numel(); base += len) {
    double m = -std::numeric_limits<double>::infinity();
    bool nan = false;
    for (int64_t i = 0; i < len; ++i) {
      const double v = x.get(base + i);
      nan = nan || std::isnan(v);
      m = v > m ? v : m;
    }
    if (nan) m = std::numeric_limits<double>::quiet_NaN();
    double sum = 0;
    for (int64_t i = 0; i < len; ++i) sum += std::exp(x.get(base + i) - m);
    for (int64_t i = 0; i < len; ++i) y[size_t(base + i)] = std::exp(x.get(base + i) - m) / sum;
  }
  return y;
}

}  // namespace rwkv::oracle
