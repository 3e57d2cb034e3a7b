#pragma once
// Quantiles of Student's t distribution for odd degrees of freedom, in double
// precision, with nothing but IEEE +, -, *, / and sqrt (no platform libm), so
// every platform computes the same bits. Used to build the SF4 table.
namespace rwkv {

// The p-quantile (inverse CDF) of Student's t with nu degrees of freedom.
// nu must be odd and in 1..99, p in (0, 1); throws std::invalid_argument
// otherwise. Accurate to a few ulps (relative) for p in [1e-6, 1 - 1e-6].
double student_t_quantile(int nu, double p);

}  // namespace rwkv
