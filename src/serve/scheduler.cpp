#include "serve/scheduler.h"

#include "blockattn/error.h"
#include "core/log.h"
#include "serve/server_metrics.h"

namespace blockattn::serve {

using Clock = std::chrono::steady_clock;

// ----------------------------------------------------------------------------------------- Job

void Job::push(JobEvent e) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(std::move(e));
  }
  cv_.notify_all();
}

std::optional<JobEvent> Job::next(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (ended_) return std::nullopt;
  if (!cv_.wait_for(lock, timeout, [&] { return !events_.empty(); })) return std::nullopt;
  JobEvent e = std::move(events_.front());
  events_.pop_front();
  if (e.kind != JobEvent::kToken) ended_ = true;
  return e;
}

// ----------------------------------------------------------------------------------- Scheduler

Scheduler::Scheduler(Engine& engine, SchedulerConfig config, ServerMetrics* metrics)
    : engine_(engine), config_(config), metrics_(metrics) {
  if (config_.parallel < 1) throw InputError("--parallel must be >= 1");
  if (config_.max_queue < 0) throw InputError("--max-queue must be >= 0");
  thread_ = std::thread([this] { loop(); });
}

Scheduler::~Scheduler() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<Job> Scheduler::submit(std::unique_ptr<Session> session) {
  auto job = std::make_shared<Job>(std::move(session));
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (draining_ || stop_) throw QueueFullError("the server is shutting down");
    // Free slots count as room: a job only waits when every slot is busy.
    const int waiting_room =
        config_.max_queue + std::max(0, config_.parallel - running_count_.load());
    if (static_cast<int>(queue_.size()) >= waiting_room)
      throw QueueFullError("the server is busy: " + std::to_string(queue_.size()) +
                           " requests are waiting (--max-queue " +
                           std::to_string(config_.max_queue) + ")");
    queue_.push_back(job);
    if (metrics_) metrics_->set_queue_depth(static_cast<int>(queue_.size()));
  }
  wake_.notify_all();
  return job;
}

int Scheduler::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(queue_.size());
}

int Scheduler::running() const { return running_count_.load(); }

int Scheduler::drain(Clock::time_point deadline) {
  draining_ = true;
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (queue_.empty() && running_count_.load() == 0) return 0;
    }
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // Out of time: cancel whatever is left; the scheduler ends each at its next step.
  int cancelled = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& job : queue_) {
      job->cancel();
      ++cancelled;
    }
    cancelled += running_count_.load();
  }
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (running_count_.load() == 0 && queue_.empty()) break;
    }
    wake_.notify_all();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return cancelled;
}

void Scheduler::end_job(const std::shared_ptr<Job>& job, const std::string& reason) {
  if (reason == "cancelled") job->session_->cancel();
  JobEvent done;
  done.kind = JobEvent::kDone;
  job->push(std::move(done));
  if (metrics_) metrics_->on_finished(job->session_->result(), reason);
}

void Scheduler::loop() {
  for (;;) {
    std::vector<std::shared_ptr<Job>> fresh;
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [&] { return stop_ || !running_.empty() || !queue_.empty(); });
      if (stop_) {
        for (auto& job : queue_) end_job(job, "cancelled");
        queue_.clear();
        for (auto& job : running_) end_job(job, "cancelled");
        running_.clear();
        running_count_ = 0;
        return;
      }
      while (static_cast<int>(running_.size() + fresh.size()) < config_.parallel &&
             !queue_.empty()) {
        fresh.push_back(queue_.front());
        queue_.pop_front();
      }
      // Counted as running from here, so submit()'s room and drain() see them.
      running_count_ = static_cast<int>(running_.size() + fresh.size());
      if (metrics_) {
        metrics_->set_queue_depth(static_cast<int>(queue_.size()));
        metrics_->set_running(running_count_.load());
      }
    }
    admit(fresh);
    step_running();
    running_count_ = static_cast<int>(running_.size());
    if (metrics_) metrics_->set_running(running_count_.load());
  }
}

void Scheduler::admit(std::vector<std::shared_ptr<Job>>& fresh) {
  for (auto& job : fresh) {
    if (job->cancelled()) {
      end_job(job, "cancelled");
      continue;
    }
    try {
      job->session_->prefill();
    } catch (const std::exception& e) {
      JobEvent err;
      err.kind = JobEvent::kError;
      err.error = e.what();
      err.error_is_input = dynamic_cast<const InputError*>(&e) != nullptr;
      if (!err.error_is_input) BA_WARN(std::string("prefill failed: ") + e.what());
      job->push(std::move(err));
      if (metrics_) metrics_->on_finished(job->session_->result(), "error");
      continue;
    }
    job->last_token_ = Clock::now();
    running_.push_back(job);
  }
}

void Scheduler::step_running() {
  if (running_.empty()) return;
  // Cancelled and overdue jobs leave before the step.
  const auto now = Clock::now();
  std::vector<std::shared_ptr<Job>> keep;
  for (auto& job : running_) {
    const double age_s = std::chrono::duration<double>(now - job->started_).count();
    if (job->cancelled()) {
      end_job(job, "cancelled");
    } else if (age_s > config_.request_timeout_s) {
      job->session_->cancel();
      end_job(job, "timeout");
    } else {
      keep.push_back(job);
    }
  }
  running_.swap(keep);
  if (running_.empty()) return;

  std::vector<Session*> sessions;
  for (auto& job : running_) sessions.push_back(job->session_.get());
  std::vector<StepOutput> outs;
  try {
    outs = engine_.step_batch(sessions);
  } catch (const std::exception& e) {
    BA_WARN(std::string("decode step failed: ") + e.what());
    for (auto& job : running_) {
      JobEvent err;
      err.kind = JobEvent::kError;
      err.error = e.what();
      job->push(std::move(err));
      if (metrics_) metrics_->on_finished(job->session_->result(), "error");
    }
    running_.clear();
    return;
  }
  const auto t = Clock::now();
  std::vector<std::shared_ptr<Job>> still;
  for (size_t i = 0; i < running_.size(); ++i) {
    auto& job = running_[i];
    StepOutput& out = outs[i];
    if (out.token >= 0 && metrics_) {
      const GenerateResult& r = job->session_->result();
      if (r.tokens.size() == 1)
        metrics_->observe_ttft(r.timings.ttft_ms / 1000.0);
      else
        metrics_->observe_inter_token(std::chrono::duration<double>(t - job->last_token_).count());
    }
    job->last_token_ = t;
    if (!out.text.empty() || out.logprob) {
      JobEvent e;
      e.text = std::move(out.text);
      if (out.logprob) e.logprob = *out.logprob;
      job->push(std::move(e));
    }
    if (out.finished)
      end_job(job, out.finish_reason);
    else
      still.push_back(job);
  }
  running_.swap(still);
}

}  // namespace blockattn::serve
