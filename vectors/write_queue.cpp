#include "vectors/write_queue.h"

namespace rwkv::vectors {
namespace {
thread_local bool tl_in_job = false;
}

bool WriteQueue::in_job() { return tl_in_job; }

WriteQueue::WriteQueue(size_t max_bytes) : max_bytes_(max_bytes), worker_([this] { work(); }) {}

WriteQueue::~WriteQueue() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    jobs_.clear();
    queued_bytes_ = 0;
  }
  changed_.notify_all();
  worker_.join();
}

void WriteQueue::push(std::function<void()> job, size_t bytes) {
  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait(lock, [&] { return error_ || jobs_.empty() || queued_bytes_ + bytes <= max_bytes_; });
  if (error_) std::rethrow_exception(error_);
  jobs_.push_back(Job{std::move(job), bytes});
  queued_bytes_ += bytes;
  lock.unlock();
  changed_.notify_all();
}

void WriteQueue::drain() {
  std::unique_lock<std::mutex> lock(mu_);
  changed_.wait(lock, [&] { return error_ || (jobs_.empty() && !busy_); });
  if (error_) std::rethrow_exception(error_);
}

void WriteQueue::work() {
  tl_in_job = true;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    changed_.wait(lock, [&] { return stop_ || !jobs_.empty(); });
    if (stop_) return;
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    busy_ = true;
    lock.unlock();
    std::exception_ptr failed;
    try {
      job.run();
    } catch (...) {
      failed = std::current_exception();
    }
    job.run = nullptr;  // the job's data goes before the bound is released
    lock.lock();
    busy_ = false;
    queued_bytes_ -= job.bytes;
    if (failed && !error_) {
      error_ = failed;
      queued_bytes_ = 0;
      jobs_.clear();
    }
    changed_.notify_all();
  }
}

}  // namespace rwkv::vectors
