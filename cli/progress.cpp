#include "cli/progress.h"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

namespace rwkv::cli {

Progress::Progress(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total), tty_(::isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()), last_(start_ - std::chrono::seconds(1)) {}

Progress::~Progress() {
  if (drawn_) std::fputc('\n', stderr);
}

void Progress::update(int64_t done) {
  if (!tty_) return;
  const auto now = std::chrono::steady_clock::now();
  if (done < total_ && now - last_ < std::chrono::milliseconds(100)) return;
  last_ = now;
  draw(done);
}

void Progress::draw(int64_t done) {
  constexpr int kWidth = 30;
  const double frac = total_ > 0 ? double(done) / double(total_) : 1.0;
  const int filled = int(frac * kWidth);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const std::string bar = std::string(size_t(filled), '=') + (filled < kWidth ? ">" : "") +
                          std::string(size_t(kWidth - filled - (filled < kWidth ? 1 : 0)), ' ');
  fmt::print(stderr, "\r{} [{}] {}/{} {} {:.1f} {}/s", label_, bar, done, total_, unit_,
             secs > 0 ? double(done) / secs : 0.0, unit_);
  std::fflush(stderr);
  drawn_ = true;
}

}  // namespace rwkv::cli
