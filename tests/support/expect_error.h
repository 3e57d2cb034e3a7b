#pragma once
// Bad arguments must throw std::invalid_argument with a message that names the
// kernel and the argument. These two helpers are how every test checks that.
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

namespace rwkv::test {

// The message of the exception of type E (std::invalid_argument unless
// told otherwise) that f() throws, or "(nothing thrown)".
template <class E = std::invalid_argument, class F> std::string thrown_message(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "(nothing thrown)";
}

// Expects call() to throw std::invalid_argument whose message contains every
// one of `needles`.
template <class F, class... Needles> void expect_error(F&& call, const Needles&... needles) {
  const std::string what = thrown_message(call);
  EXPECT_NE(what, "(nothing thrown)") << "no exception; expected one mentioning: " << (std::string(needles) + ... + " ");
  for (const std::string& needle : {std::string(needles)...})
    EXPECT_NE(what.find(needle), std::string::npos) << "expected '" << needle << "' in: " << what;
}

// As expect_error, for bad files: std::runtime_error naming the file etc.
template <class F, class... Needles> void expect_file_error(F&& call, const Needles&... needles) {
  const std::string what = thrown_message<std::runtime_error>(call);
  EXPECT_NE(what, "(nothing thrown)") << "no exception; expected one mentioning: " << (std::string(needles) + ... + " ");
  for (const std::string& needle : {std::string(needles)...})
    EXPECT_NE(what.find(needle), std::string::npos) << "expected '" << needle << "' in: " << what;
}

}  // namespace rwkv::test
