#include "train/distill.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>
#include <optional>

#include "blockattn/error.h"
#include "blockattn/tokenizer.h"
#include "core/io.h"
#include "model/model.h"
#include "model/model_io.h"
#include "model/torch_dtype.h"
#include "train/adamw.h"
#include "train/block_layout.h"
#include "train/data_parallel.h"
#include "train/distill_loss.h"
#include "train/metrics_log.h"
#include "train/progress.h"
#include "train/sample_stream.h"
#include "train/train_checkpoint.h"

namespace blockattn::train {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Seeds of the per-sample layout decisions and of the two sample streams.
constexpr uint64_t kLayoutStream = 1, kTrainOrder = 2, kValOrder = 3;

double unit(uint64_t x) { return static_cast<double>(x >> 11) * 0x1.0p-53; }

// Full or block mode and the query copies of the sample at stream position `index`: a pure
// function of (seed, index), so the decisions replay exactly on resume and on every process.
LayoutOptions decide_layout(const DistillSettings& d, int32_t sink_id, const BlockSample& s,
                            uint64_t seed, uint64_t index) {
  LayoutOptions o;
  o.sink_tokens = d.sink_tokens;
  o.sink_token_id = sink_id;
  const uint64_t h = mix_seed(seed, kLayoutStream, index);
  o.block_mode = !(unit(h) < d.full_fraction);
  if (o.block_mode && d.block_dropout > 0)
    for (size_t i = 1; i + 1 < s.blocks.size(); ++i)
      if (unit(mix_seed(h, i)) < d.block_dropout) o.copies.push_back(i);
  return o;
}

struct Setup {
  DistillConfig config;
  std::unique_ptr<Tokenizer> tokenizer;
  ModelConfig model_config;  // the teacher's
  int32_t sink_id = 0;
  SampleSet train;
  std::optional<SampleSet> validation;
  std::string checkpoint;
  TrainState state;
  std::string data_fingerprint;  // tokenizer fingerprint / teacher weights fingerprint
};

ModelConfig without_sinks(ModelConfig c) {
  c.block_sink_tokens = 0;
  c.block_sink_token_id.reset();
  c.torch_dtype.clear();
  return c;
}

Setup prepare(const DistillOptions& o, const std::string& teacher_fingerprint) {
  Setup s;
  s.model_config = ModelConfig::load(o.teacher_dir);
  s.config = DistillConfig::load(o.config_path, o.method, s.model_config.max_position_embeddings);
  const DistillSettings& d = s.config.distill;
  // A model trained with sinks expects them in both modes; as a teacher it would run without them.
  if (o.method == BlockTrainMethod::kDistill && s.model_config.block_sink_tokens > 0)
    throw InputError(
        "teacher " + o.teacher_dir + " was trained with " +
        std::to_string(s.model_config.block_sink_tokens) +
        " block sink tokens (it is already distilled): distill from its full-attention base");
  s.tokenizer = Tokenizer::load(o.teacher_dir);
  if (!o.student_dir.empty()) {
    const ModelConfig student = ModelConfig::load(o.student_dir);
    if (without_sinks(student) != without_sinks(s.model_config))
      throw FormatError("student " + o.student_dir +
                        " does not have the teacher's architecture and sizes (" + o.teacher_dir +
                        "/config.json)");
    const std::string fp = Tokenizer::load(o.student_dir)->fingerprint();
    if (fp != s.tokenizer->fingerprint())
      throw FormatError("student " + o.student_dir + " has tokenizer " + fp + ", the teacher " +
                        s.tokenizer->fingerprint() + ": distillation needs one tokenizer");
  }
  if (d.sink_tokens > 0) {
    auto id = s.tokenizer->token_to_id(d.sink_token);
    if (!id)
      throw InputError("sink token \"" + d.sink_token + "\" is not in the vocabulary of " +
                       o.teacher_dir);
    s.sink_id = *id;
  }
  SampleLoadOptions lo;
  lo.max_content_tokens = s.config.train.seq_len;
  lo.max_layout_tokens = s.model_config.max_position_embeddings;
  lo.sink_tokens = d.sink_tokens;
  lo.threads = o.threads;
  s.train = load_samples(o.data_dir + "/train", *s.tokenizer, lo);
  if (s.config.train.eval_every > 0 && s.config.train.eval_batches > 0 &&
      is_directory(o.data_dir + "/validation"))
    s.validation = load_samples(o.data_dir + "/validation", *s.tokenizer, lo);
  s.data_fingerprint = s.tokenizer->fingerprint() + "/" + teacher_fingerprint;

  s.checkpoint = find_checkpoint(o.out_dir);
  if (!s.checkpoint.empty() && !o.resume)
    throw InputError(
        o.out_dir +
        " already holds a checkpoint: pass --resume to continue it, or use another --out");
  if (!s.checkpoint.empty()) {
    s.state = read_checkpoint_state(s.checkpoint);
    DistillConfig old = DistillConfig::from_json(s.state.config_json, s.checkpoint + "/state.json",
                                                 o.method, s.model_config.max_position_embeddings);
    const std::string diff = s.config.resume_mismatch(old);
    if (!diff.empty())
      throw InputError("checkpoint " + s.checkpoint + " was written for a different config (" +
                       diff + " differs); use the original config or a fresh --out");
    if (s.state.data_fingerprint != s.data_fingerprint)
      throw FormatError("checkpoint " + s.checkpoint +
                        " belongs to another teacher or tokenizer (" + s.state.data_fingerprint +
                        ", now " + s.data_fingerprint + ")");
  }
  return s;
}

// The losses of one packed micro-batch.
struct MicroLoss {
  torch::Tensor weighted_sum;  // [] Σ w·(kl_weight·KL + ce_weight·CE), the training objective
  torch::Tensor ce_sum;        // [] Σ CE (unweighted)
  torch::Tensor kl_sum;        // [] Σ KL to the teacher (0 without a teacher)
  int64_t predictions = 0;
};

class Trainer {
 public:
  Trainer(const Setup& s, const Model* teacher, const Model& student)
      : s_(s), d_(s.config.distill), teacher_(teacher), student_(student) {}

  // Rows of samples (stream positions into `set` via `stream`), laid out with `decide`.
  MicroLoss loss(const SampleSet& set, const SampleStream& stream,
                 const std::vector<std::vector<uint64_t>>& rows, bool training) const {
    std::vector<SampleLayout> layouts, teacher_block;
    std::vector<const BlockSample*> samples;
    std::vector<std::vector<size_t>> packed(rows.size());
    for (size_t r = 0; r < rows.size(); ++r)
      for (uint64_t pos : rows[r]) {
        const BlockSample& sample = set.samples[stream.at(pos)];
        LayoutOptions lo = decide_layout(d_, s_.sink_id, sample, s_.config.train.seed, pos);
        if (!training)
          lo.block_mode = true, lo.copies.clear();  // validation: the inference condition
        packed[r].push_back(layouts.size());
        layouts.push_back(lay_out_sample(sample, lo));
        samples.push_back(&sample);
        if (training && d_.token_weighting > 0) {
          lo.sink_tokens = 0;  // the teacher never saw sinks
          teacher_block.push_back(lay_out_sample(sample, lo));
        }
      }
    const torch::Device device = student_.device();
    PackedBatch b = pack_rows(layouts, samples, packed, device);
    torch::Tensor logits = student_.forward_train(b.ids, b.mask, b.positions);  // [R, T, V]
    const int64_t V = logits.size(-1);
    torch::Tensor student = logits.view({-1, V}).index_select(0, b.student_flat);  // [N, V]
    MicroLoss m;
    m.predictions = b.predictions;
    torch::Tensor ce = torch::nn::functional::cross_entropy(
        student, b.targets,
        torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));  // [N]
    torch::Tensor per = d_.ce_weight * ce;                                          // [N]
    m.ce_sum = ce.detach().sum();
    m.kl_sum = torch::zeros({}, ce.options());
    if (teacher_) {
      torch::Tensor target;  // [N, V] the teacher's full-attention logits
      {
        torch::NoGradGuard no_grad;
        target = teacher_->forward_train(b.content_ids, b.content_mask)
                     .view({-1, V})
                     .index_select(0, b.content_flat);
      }
      torch::Tensor kl = kl_per_prediction(target, student, d_.temperature);  // [N]
      m.kl_sum = kl.detach().sum();
      if (d_.kl_weight > 0) per = per + d_.kl_weight * kl;
      if (!teacher_block.empty()) {
        torch::Tensor weights;  // [N]
        {
          torch::NoGradGuard no_grad;
          PackedBatch tb = pack_rows(teacher_block, samples, packed, device);
          torch::Tensor block_logits =  // [N, V] the teacher's own block-mode predictions
              teacher_->forward_train(tb.ids, tb.mask, tb.positions)
                  .view({-1, V})
                  .index_select(0, tb.student_flat);
          torch::Tensor sensitivity = kl_per_prediction(target, block_logits, 1.0);  // [N]
          weights = sensitivity_weights(sensitivity, b.prediction_row,
                                        static_cast<int64_t>(rows.size()), d_.token_weighting);
        }
        per = per * weights;
      }
    }
    m.weighted_sum = per.sum();
    return m;
  }

 private:
  const Setup& s_;
  const DistillSettings& d_;
  const Model* teacher_;
  const Model& student_;
};

// Number of supervised predictions of the given rows (for the step's loss normaliser).
int64_t count_predictions(const Setup& s, const SampleStream& stream,
                          const std::vector<std::vector<uint64_t>>& rows) {
  int64_t n = 0;
  for (const auto& row : rows)
    for (uint64_t pos : row) {
      const BlockSample& sample = s.train.samples[stream.at(pos)];
      n += static_cast<int64_t>(
          lay_out_sample(
              sample, decide_layout(s.config.distill, s.sink_id, sample, s.config.train.seed, pos))
              .student_index.size());
    }
  return n;
}

struct ValResult {
  double ce = 0, kl = 0;
};

ValResult validate(const Setup& s, const Trainer& trainer, DataParallel& dp) {
  torch::NoGradGuard no_grad;
  const SampleStream stream(*s.validation, s.config.train.seed + kValOrder);
  const TrainConfig& t = s.config.train;
  uint64_t cursor = 0;
  double ce = 0, kl = 0, n = 0;
  for (int64_t i = 0; i < t.eval_batches; ++i) {
    auto rows = stream.next_rows(cursor, t.batch_size, t.seq_len);
    std::vector<std::vector<uint64_t>> mine;
    for (size_t r = 0; r < rows.size(); ++r)
      if (static_cast<int>(r % dp.world()) == dp.rank()) mine.push_back(rows[r]);
    if (mine.empty()) continue;
    MicroLoss m = trainer.loss(*s.validation, stream, mine, /*training=*/false);
    ce += m.ce_sum.item<double>();
    kl += m.kl_sum.item<double>();
    n += static_cast<double>(m.predictions);
  }
  ce = dp.all_reduce_sum(ce);
  kl = dp.all_reduce_sum(kl);
  n = dp.all_reduce_sum(n);
  return {n > 0 ? ce / n : 0, n > 0 ? kl / n : 0};
}

// Every process must hold the same weights after every step; compares one checksum per process.
void check_in_sync(AdamW& opt, DataParallel& dp) {
  if (dp.world() == 1) return;
  torch::NoGradGuard no_grad;
  double checksum = 0;
  for (const Param& p : opt.params()) checksum += p.master.to(torch::kFloat64).sum().item<double>();
  torch::Tensor all =
      torch::zeros({dp.world()}, torch::TensorOptions().dtype(torch::kFloat64));  // [world]
  all[dp.rank()] = checksum;
  if (opt.params().front().master.is_cuda()) all = all.to(opt.params().front().master.device());
  dp.all_reduce_sum({all});
  all = all.to(torch::kCPU);
  for (int r = 0; r < dp.world(); ++r)
    if (all[r].item<double>() != checksum)
      throw Error("data-parallel processes diverged: weights checksum of rank " +
                  std::to_string(r) + " is " + std::to_string(all[r].item<double>()) + ", rank " +
                  std::to_string(dp.rank()) + " has " + std::to_string(checksum));
}

void copy_tokenizer_files(const std::string& from, const std::string& to) {
  for (const auto& e : std::filesystem::directory_iterator(from)) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file() && name.rfind("tokenizer", 0) == 0)
      write_file_atomic(to + "/" + name, read_file(e.path().string()));
  }
}

// OUT/model: the student's weights, the teacher's tokenizer, config.json recording the sinks.
std::string export_model(Model& student, const Setup& s, const DistillOptions& o) {
  const std::string dir = o.out_dir + "/model";
  std::filesystem::create_directories(dir);
  save_model(student, dir, student.dtype(), o.max_shard_bytes);
  ModelConfig mc = ModelConfig::load(dir);
  mc.block_sink_tokens = s.config.distill.sink_tokens;
  if (mc.block_sink_tokens > 0)
    mc.block_sink_token_id = s.sink_id;
  else
    mc.block_sink_token_id.reset();
  write_file_atomic(dir + "/config.json", mc.to_json());
  copy_tokenizer_files(o.teacher_dir, dir);
  ModelLoadOptions lo;
  lo.device = student.device().str();
  lo.dtype = float_dtype_name(student.dtype());
  std::shared_ptr<Model> loaded = Model::load(dir, lo);
  torch::NoGradGuard no_grad;
  torch::Tensor ids =
      torch::tensor(content_ids(s.train.samples.front()), torch::kInt64).unsqueeze(0);  // [1, T]
  if (!torch::equal(student.forward_train(ids), loaded->forward_train(ids)))
    throw Error("the saved model in " + dir + " does not reproduce the trained weights' logits");
  return dir;
}

}  // namespace

DistillResult run_distill(const DistillOptions& o) {
  const Clock::time_point run_start = Clock::now();
  const bool writer = o.rank == 0;
  std::FILE* out = writer ? o.progress : nullptr;
  const ModelConfig teacher_config = ModelConfig::load(o.teacher_dir);
  // Training settings decide the device and dtype; read them before loading any weights.
  const DistillConfig early =
      DistillConfig::load(o.config_path, o.method, teacher_config.max_position_embeddings);
  const TrainConfig& t0 = early.train;
  torch::Device device = resolve_device(t0.device);
  if (device.is_cuda() && o.world > 1)
    device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(o.rank));
  const bool bf16 = t0.dtype == "bfloat16" || (t0.dtype == "auto" && device.is_cuda());
  ModelLoadOptions lo;
  lo.device = device.str();
  lo.dtype = bf16 ? "bfloat16" : "float32";

  std::shared_ptr<Model> teacher;
  if (o.method == BlockTrainMethod::kDistill) teacher = Model::load(o.teacher_dir, lo);
  std::shared_ptr<Model> student =
      Model::load(o.student_dir.empty() ? o.teacher_dir : o.student_dir, lo);
  // blockft has no teacher: its checkpoints are tied to the model it started from.
  Setup s = prepare(o, teacher ? teacher->fingerprint() : student->fingerprint());
  const TrainConfig& t = s.config.train;
  AdamW opt(t, student->weights().named(student->config()));
  if (!s.checkpoint.empty()) restore_checkpoint_tensors(s.checkpoint, opt);
  DataParallel dp(o.rank, o.world, o.store_path, device);
  if (t.batch_size % o.world != 0)
    throw InputError("training.batch_size " + std::to_string(t.batch_size) +
                     " is not divisible by --nproc " + std::to_string(o.world));

  if (writer) std::filesystem::create_directories(o.out_dir);
  dp.barrier();
  ProgressLine progress(out, t.total_steps, t.log_every);
  TrainState state = s.state;
  state.config_json = s.config.canonical_json;
  state.data_fingerprint = s.data_fingerprint;
  const SampleStream stream(s.train, t.seed + kTrainOrder);
  Trainer trainer(s, teacher.get(), *student);
  std::unique_ptr<MetricsLog> metrics;
  if (writer) metrics = std::make_unique<MetricsLog>(o.out_dir + "/metrics.jsonl");

  DistillResult r;
  r.start_step = state.step;
  r.total_steps = t.total_steps;
  const DistillSettings& d = s.config.distill;
  char head[512];
  std::snprintf(
      head, sizeof head,
      "%s: %lld parameters, %zu training samples (%llu tokens; %llu trimmed, %llu dropped), %lld "
      "rows x "
      "%lld tokens per step, sinks %d, block dropout %.2f, token weighting %.2f, full fraction "
      "%.2f, %s on "
      "%s x %d (%s)%s",
      method_name(o.method), (long long)student->config().num_parameters(), s.train.samples.size(),
      (unsigned long long)s.train.content_tokens, (unsigned long long)s.train.trimmed,
      (unsigned long long)s.train.dropped, (long long)(t.batch_size * t.grad_accum),
      (long long)t.seq_len, d.sink_tokens, d.block_dropout, d.token_weighting, d.full_fraction,
      bf16 ? "bf16 compute + fp32 master weights" : "fp32", device.str().c_str(), o.world,
      dp.backend().c_str(),
      s.checkpoint.empty() ? "" : (", resuming at step " + std::to_string(state.step)).c_str());
  progress.message(head);

  double train_s = 0;
  int64_t run_steps = 0;
  auto checkpoint = [&] {
    check_in_sync(opt, dp);
    if (writer) save_checkpoint(o.out_dir, opt, state);
    dp.barrier();
  };
  auto run_validation = [&] {
    if (!s.validation) return;
    const ValResult v = validate(s, trainer, dp);
    r.val_losses.emplace_back(state.step, v.ce);
    r.val_kl.emplace_back(state.step, v.kl);
    char line[160];
    std::snprintf(line, sizeof line, "step %lld: validation (block mode) CE %.4f%s",
                  (long long)state.step, v.ce,
                  teacher ? (", KL to teacher " + std::to_string(v.kl)).c_str() : "");
    progress.message(line);
    if (metrics)
      metrics->log_validation(state.step, v.ce, {{"block_ce", v.ce}, {"kl_to_teacher", v.kl}});
  };
  if (state.step == 0 && t.eval_every > 0) run_validation();  // the starting point
  while (state.step < t.total_steps) {
    const Clock::time_point step_start = Clock::now();
    const double lr = lr_at(t, state.step);
    uint64_t cursor = state.train_cursor;
    const auto rows = stream.next_rows(cursor, t.batch_size * t.grad_accum, t.seq_len);
    const double normaliser = static_cast<double>(count_predictions(s, stream, rows));
    uint64_t step_tokens = 0;
    for (const auto& row : rows)
      for (uint64_t pos : row) step_tokens += s.train.samples[stream.at(pos)].content_tokens();
    torch::Tensor loss_sum = torch::zeros({}, torch::TensorOptions().device(device));  // []
    for (int64_t m = 0; m < t.grad_accum; ++m) {
      std::vector<std::vector<uint64_t>> mine;
      for (int64_t i = 0; i < t.batch_size; ++i)
        if (i % o.world == o.rank) mine.push_back(rows[m * t.batch_size + i]);
      MicroLoss ml = trainer.loss(s.train, stream, mine, /*training=*/true);
      (ml.weighted_sum / normaliser).backward();
      opt.accumulate_grads();
      loss_sum += ml.weighted_sum.detach() / normaliser;
    }
    if (o.world > 1) {
      dp.all_reduce_sum(opt.gradients());
      dp.all_reduce_sum({loss_sum});
    }
    opt.clip_grads();
    opt.step(state.step, lr);
    const double loss = loss_sum.item<double>();
    if (!std::isfinite(loss))
      throw Error("training diverged: loss is " + std::to_string(loss) + " at step " +
                  std::to_string(state.step) + " (lower training.lr)");
    state.train_cursor = cursor;
    ++state.step;
    ++run_steps;
    state.tokens_seen += step_tokens;
    r.content_tokens += step_tokens;
    const double step_s = seconds_since(step_start);
    train_s += step_s;
    state.elapsed_s += step_s;
    r.losses.push_back(loss);
    const double tps = static_cast<double>(r.content_tokens) / train_s;
    progress.update(state.step, loss, lr, tps, (t.total_steps - state.step) * train_s / run_steps);
    const bool last = state.step == t.total_steps;
    if (metrics && t.log_every > 0 && (state.step % t.log_every == 0 || last))
      metrics->log_step(state.step, loss, lr, tps, static_cast<int64_t>(state.tokens_seen));
    if (t.eval_every > 0 && (state.step % t.eval_every == 0 || last)) run_validation();
    bool out_of_time = o.max_minutes > 0 && seconds_since(run_start) >= o.max_minutes * 60.0;
    if (o.world > 1)
      out_of_time = dp.all_reduce_sum(out_of_time ? 1.0 : 0.0) > 0;  // every process stops together
    const bool out_of_steps = o.max_steps > 0 && run_steps >= o.max_steps;
    if (last || out_of_time || out_of_steps ||
        (t.checkpoint_every > 0 && state.step % t.checkpoint_every == 0))
      checkpoint();
    if (!last && (out_of_time || out_of_steps)) {
      progress.message("stopped at step " + std::to_string(state.step) + "/" +
                       std::to_string(t.total_steps) + "; checkpoint in " + o.out_dir +
                       "/checkpoint (re-run with --resume to continue)");
      break;
    }
  }
  r.end_step = state.step;
  r.content_tokens_per_s = run_steps > 0 ? static_cast<double>(r.content_tokens) / train_s : 0;
  if (o.world > 1)
    progress.message("data-parallel: " + std::to_string(o.world) +
                     " processes hold identical weights (" + dp.backend() + ")");
  if (state.step >= t.total_steps) {
    r.finished = true;
    if (writer) r.model_dir = export_model(*student, s, o);
    dp.barrier();
  }
  char line[256];
  std::snprintf(line, sizeof line, "%s: %lld steps in %s this run, %.0f sample tokens/s%s%s",
                r.finished ? "done" : "paused", (long long)run_steps,
                format_duration(train_s).c_str(), r.content_tokens_per_s,
                r.finished && writer ? ", model saved to " : "", r.model_dir.c_str());
  progress.message(line);
  return r;
}

}  // namespace blockattn::train
