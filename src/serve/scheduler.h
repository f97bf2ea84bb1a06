// The server's scheduler: runs every request's model work on one thread, `parallel` requests at
// a time, the decode steps of all running requests batched into one forward per step
// (continuous batching: a request joins the batch when its prefill is done and leaves when it
// finishes, without waiting for the others).
//
// Threading: submit(), cancel() (through Job), the counters and drain() may be called from any
// thread (the HTTP handlers). The engine is only touched by the scheduler thread and by the
// handlers' Engine::start() (tokenization, which the Engine allows from any thread).
// Jobs hand their results to the handler through Job::next(), which blocks; the scheduler never
// blocks on a client, so a slow reader cannot stall the batch.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "blockattn/engine.h"

namespace blockattn::serve {

class ServerMetrics;

struct SchedulerConfig {
  int parallel = 4;                // requests running at once (slots)
  int max_queue = 64;              // requests waiting for a slot; beyond: QueueFullError
  double request_timeout_s = 600;  // a request running longer is ended (finish_reason "length")
};

// One piece of a job's progress, in order: zero or more kToken, then exactly one kDone or kError.
struct JobEvent {
  enum Kind { kToken, kDone, kError } kind = kToken;
  std::string text;                     // kToken: newly safe text (may be empty)
  std::optional<TokenLogprob> logprob;  // kToken, when requested
  std::string error;                    // kError: the message
  bool error_is_input = false;          // kError: the request's fault (400) rather than ours (500)
};

class Job {
 public:
  explicit Job(std::unique_ptr<Session> session) : session_(std::move(session)) {}

  // The next event, waiting up to `timeout`; nullopt on timeout. After kDone/kError: nullopt.
  std::optional<JobEvent> next(std::chrono::milliseconds timeout);
  // Asks the scheduler to end the job (client gone); its last event is then kDone "cancelled".
  void cancel() { cancelled_ = true; }
  bool cancelled() const { return cancelled_; }

  // Valid once kDone was received (the scheduler no longer touches the session then).
  const GenerateResult& result() const { return session_->result(); }

 private:
  friend class Scheduler;
  void push(JobEvent e);

  std::unique_ptr<Session> session_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_token_;
  std::atomic<bool> cancelled_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<JobEvent> events_;
  bool ended_ = false;  // kDone/kError taken by next()
};

class QueueFullError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Scheduler {
 public:
  Scheduler(Engine& engine, SchedulerConfig config, ServerMetrics* metrics);
  ~Scheduler();  // stops the thread; jobs still queued or running end as "cancelled"

  // Queues a started session. Throws QueueFullError when max_queue jobs are waiting, or when
  // draining.
  std::shared_ptr<Job> submit(std::unique_ptr<Session> session);

  // Stops admitting, waits until every job has finished or `deadline` passes, then cancels what
  // is left. Returns the number of jobs that had to be cancelled.
  int drain(std::chrono::steady_clock::time_point deadline);

  int queued() const;
  int running() const;
  bool draining() const { return draining_; }

 private:
  void loop();
  void admit(std::vector<std::shared_ptr<Job>>& fresh);
  void step_running();
  void end_job(const std::shared_ptr<Job>& job, const std::string& reason);

  Engine& engine_;
  const SchedulerConfig config_;
  ServerMetrics* metrics_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Job>> queue_;
  std::vector<std::shared_ptr<Job>> running_;  // scheduler thread only (size mirrored below)
  std::atomic<int> running_count_{0};
  std::atomic<bool> draining_{false};
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace blockattn::serve
