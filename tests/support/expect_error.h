#pragma once
// Bad arguments must throw std::invalid_argument with a message that names the
// kernel and the argument. These two helpers are how every test checks that.
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

namespace rwkv::test {

// The message of the std::invalid_argument that f() throws, or
// "(nothing thrown)".
template <class F> std::string thrown_message(F&& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
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

}  // namespace rwkv::test
