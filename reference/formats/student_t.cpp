#include "reference/formats/student_t.h"

#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

namespace rwkv {

namespace {

constexpr double kPi = 3.141592653589793;        // pi rounded to double
constexpr double kHalfPi = 1.5707963267948966;   // pi/2 rounded to double

// sin by its Taylor series, for |x| <= pi/2 (terms fall below 1e-18 within 15).
double series_sin(double x) {
  const double x2 = x * x;
  double term = x, sum = x;
  for (int k = 1; k < 30; ++k) {
    term = -term * x2 / double((2 * k) * (2 * k + 1));
    const double next = sum + term;
    if (next == sum) break;
    sum = next;
  }
  return sum;
}

// sin and cos of theta in [0, pi/2]; cos as the sine of the complement, so
// that it keeps its relative accuracy when it is small (theta near pi/2).
void sin_cos(double theta, double* s, double* c) {
  *s = series_sin(theta);
  *c = series_sin(kHalfPi - theta);
}

// (pi * (F(t) - 1/2)) for odd nu as a function of theta = atan(t / sqrt(nu)):
//   G(theta) = theta + sin*cos * sum_{k<m} a_k cos^(2k),  m = (nu - 1)/2,
//   a_0 = 1, a_k = a_{k-1} * 2k/(2k + 1).
// (nu = 1: theta; nu = 3: theta + sc; nu = 5: theta + sc(1 + 2c^2/3).)
// G increases strictly on [0, pi/2): G'(theta) = (2m)!!/(2m-1)!! * cos^(2m) > 0.
double odd_nu_g(int nu, double theta) {
  double s, c;
  sin_cos(theta, &s, &c);
  const int m = (nu - 1) / 2;
  double a = 1.0, c_pow = 1.0, poly = 0.0;
  for (int k = 0; k < m; ++k) {
    if (k > 0) a = a * double(2 * k) / double(2 * k + 1);
    poly += a * c_pow;
    c_pow *= c * c;
  }
  return theta + s * c * poly;
}

}  // namespace

double student_t_quantile(int nu, double p) {
  if (nu < 1 || nu > 99 || nu % 2 == 0)
    throw std::invalid_argument(fmt::format("student_t_quantile: nu = {} must be odd and in 1..99", nu));
  if (!(p > 0.0 && p < 1.0))
    throw std::invalid_argument(fmt::format("student_t_quantile: p = {} must lie in (0, 1)", p));
  if (p == 0.5) return 0.0;
  // Work with the tail probability, as statrs does: q = p below 1/2, else
  // 1 - p (exact for p >= 1/2), then solve G(theta) = pi (1/2 - q).
  const double q = p < 0.5 ? p : 1.0 - p;
  const double target = kPi * (0.5 - q);
  double lo = 0.0, hi = kHalfPi;
  while (true) {  // bisection until lo and hi are adjacent doubles
    const double mid = 0.5 * (lo + hi);
    if (mid <= lo || mid >= hi) break;
    if (odd_nu_g(nu, mid) < target) lo = mid;
    else hi = mid;
  }
  const double theta = (target - odd_nu_g(nu, lo)) < (odd_nu_g(nu, hi) - target) ? lo : hi;
  double s, c;
  sin_cos(theta, &s, &c);
  const double t = std::sqrt(double(nu)) * s / c;  // sqrt(nu) * tan(theta)
  return p < 0.5 ? -t : t;
}

}  // namespace rwkv
