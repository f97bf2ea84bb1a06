#include "train/distill.h"

#include <cmath>
#include <filesystem>
#include <memory>
#include <optional>

#include "blockattn/error.h"
#include "blockattn/tokenizer.h"
#include "core/io.h"
#include "model/model.h"
#include "model/model_io.h"
#include "train/adamw.h"
#include "train/block_layout.h"
#include "train/data_parallel.h"
#include "train/distill_loss.h"
#include "train/metrics_log.h"
#include "train/progress.h"
#include "train/sample_stream.h"
#include "train/train_checkpoint.h"
#include "train/train_loop.h"

namespace blockattn::train {

namespace {

// Seeds of the per-sample layout decisions and of the two sample streams.
constexpr uint64_t kLayoutStream = 1, kTrainOrder = 2, kValOrder = 3, kLoraDropoutStream = 4;

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

// The teacher's config.json and the training config, each read once: they decide the device and
// dtype before any weights are loaded.
struct Configs {
  ModelConfig teacher;
  DistillConfig config;
};

Configs read_configs(const DistillOptions& o) {
  Configs c;
  c.teacher = ModelConfig::load(o.teacher_dir);
  c.config = DistillConfig::load(o.config_path, o.method, c.teacher.max_position_embeddings);
  return c;
}

// Everything about the inputs that can be wrong, checked before training: configs, tokenizers,
// samples, and the checkpoint to resume.
Setup prepare(const DistillOptions& o, const Configs& configs,
              const std::string& teacher_fingerprint) {
  Setup s;
  s.model_config = configs.teacher;
  s.config = configs.config;
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

  s.checkpoint = checkpoint_to_resume(o.out_dir, o.resume, s.state);
  if (!s.checkpoint.empty()) {
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

// Rows of samples laid out once: what a micro-batch packs and what the step's loss normaliser
// counts.
struct LaidOutRows {
  std::vector<SampleLayout> layouts, teacher_block;  // teacher_block: with token weighting only
  std::vector<const BlockSample*> samples;
  std::vector<std::vector<size_t>> rows;  // indices into the lists above, per row
  int64_t predictions = 0;                // supervised predictions of every row
};

// Distillation's and block fine-tuning's data and loss for the shared loop.
class DistillTask : public TrainTask {
 public:
  DistillTask(const Setup& s, const Model* teacher, const Model& student, DataParallel& dp)
      : s_(s),
        d_(s.config.distill),
        t_(s.config.train),
        teacher_(teacher),
        student_(student),
        dp_(dp),
        stream_(s.train, t_.seed + kTrainOrder) {}

  StepLoss run_step(TrainState& state, AdamW& opt) override {
    // LoRA dropout draws from torch's generator: seeded from (seed, step), so a resumed run
    // draws the same masks.
    if (d_.lora && d_.lora->dropout > 0)
      torch::manual_seed(mix_seed(t_.seed, kLoraDropoutStream, static_cast<uint64_t>(state.step)));
    uint64_t cursor = state.train_cursor;
    const auto rows = stream_.next_rows(cursor, t_.batch_size * t_.grad_accum, t_.seq_len);
    StepLoss step;
    for (const auto& row : rows)
      for (uint64_t pos : row) step.tokens += s_.train.samples[stream_.at(pos)].content_tokens();
    // Every sample of the step laid out once; the normaliser counts all processes' predictions.
    const LaidOutRows all = lay_out(s_.train, stream_, rows, /*training=*/true);
    const double normaliser = static_cast<double>(all.predictions);
    step.sum = torch::zeros({}, torch::TensorOptions().device(student_.device()));  // []
    for (int64_t m = 0; m < t_.grad_accum; ++m) {
      std::vector<size_t> mine;
      for (int64_t i = 0; i < t_.batch_size; ++i)
        if (i % dp_.world() == dp_.rank())
          mine.push_back(static_cast<size_t>(m * t_.batch_size + i));
      MicroLoss ml = loss(select_rows(all, mine));
      (ml.weighted_sum / normaliser).backward();
      opt.accumulate_grads();
      step.sum += ml.weighted_sum.detach() / normaliser;
    }
    state.train_cursor = cursor;
    return step;
  }

  void validate(int64_t step, ProgressLine& progress, MetricsLog* metrics) override {
    if (!s_.validation) return;
    const ValResult v = validation_losses();
    val_losses.emplace_back(step, v.ce);
    val_kl.emplace_back(step, v.kl);
    char line[160];
    std::snprintf(line, sizeof line, "step %lld: validation (block mode) CE %.4f%s",
                  (long long)step, v.ce,
                  teacher_ ? (", KL to teacher " + std::to_string(v.kl)).c_str() : "");
    progress.message(line);
    if (metrics) metrics->log_validation(step, v.ce, {{"block_ce", v.ce}, {"kl_to_teacher", v.kl}});
  }

  std::vector<std::pair<int64_t, double>> val_losses, val_kl;

 private:
  struct ValResult {
    double ce = 0, kl = 0;
  };

  // Rows of samples (stream positions into `set` via `stream`), laid out with decide_layout;
  // validation lays out in the inference condition (block mode, no copies).
  LaidOutRows lay_out(const SampleSet& set, const SampleStream& stream,
                      const std::vector<std::vector<uint64_t>>& rows, bool training) const {
    LaidOutRows out;
    out.rows.resize(rows.size());
    for (size_t r = 0; r < rows.size(); ++r)
      for (uint64_t pos : rows[r]) {
        const BlockSample& sample = set.samples[stream.at(pos)];
        LayoutOptions lo = decide_layout(d_, s_.sink_id, sample, t_.seed, pos);
        if (!training) lo.block_mode = true, lo.copies.clear();
        out.rows[r].push_back(out.layouts.size());
        out.layouts.push_back(lay_out_sample(sample, lo));
        out.predictions += static_cast<int64_t>(out.layouts.back().student_index.size());
        out.samples.push_back(&sample);
        if (training && d_.token_weighting > 0) {
          lo.sink_tokens = 0;  // the teacher never saw sinks
          out.teacher_block.push_back(lay_out_sample(sample, lo));
        }
      }
    return out;
  }

  // The rows `keep` of `all` (this process's share of one micro-batch), renumbered.
  static LaidOutRows select_rows(const LaidOutRows& all, const std::vector<size_t>& keep) {
    LaidOutRows out;
    for (size_t r : keep) {
      out.rows.emplace_back();
      for (size_t i : all.rows[r]) {
        out.rows.back().push_back(out.layouts.size());
        out.layouts.push_back(all.layouts[i]);
        if (!all.teacher_block.empty()) out.teacher_block.push_back(all.teacher_block[i]);
        out.samples.push_back(all.samples[i]);
        out.predictions += static_cast<int64_t>(all.layouts[i].student_index.size());
      }
    }
    return out;
  }

  // The losses of one packed micro-batch.
  MicroLoss loss(const LaidOutRows& in) const {
    const torch::Device device = student_.device();
    PackedBatch b = pack_rows(in.layouts, in.samples, in.rows, device, MaskForm::kSpansOnly);
    Model::TrainInputs inputs;
    inputs.ids = b.ids;
    inputs.positions = b.positions;
    inputs.spans = &b.spans;
    inputs.logit_rows = b.student_flat;
    inputs.checkpoint_layers = t_.activation_checkpointing && torch::GradMode::is_enabled();
    torch::Tensor student = student_.forward_train(inputs);  // [N, V]
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
        target = teacher_logits(b.content_ids, b.content_spans, b.content_flat);
      }
      torch::Tensor kl = kl_per_prediction(target, student, d_.temperature);  // [N]
      m.kl_sum = kl.detach().sum();
      if (d_.kl_weight > 0) per = per + d_.kl_weight * kl;
      if (!in.teacher_block.empty())
        per = per * sensitivity(in, target, b.prediction_row, static_cast<int64_t>(in.rows.size()));
    }
    m.weighted_sum = per.sum();
    return m;
  }

  // The teacher's logits [N, V] at the flat token indices `rows` of ids [R, T]: the separate
  // teacher's, or with LoRA (teacher == student) the student's frozen base with the adapter
  // switched off.
  torch::Tensor teacher_logits(const torch::Tensor& ids, const SpanPlan& spans,
                               const torch::Tensor& rows,
                               const torch::Tensor& positions = {}) const {
    std::optional<Model::BaseOnly> base_only;
    if (teacher_ == &student_) base_only.emplace();
    Model::TrainInputs inputs;
    inputs.ids = ids;
    inputs.positions = positions;
    inputs.spans = &spans;
    inputs.logit_rows = rows;
    return teacher_->forward_train(inputs);
  }

  // Token weights [N] from how much block attention changes the teacher's own predictions.
  torch::Tensor sensitivity(const LaidOutRows& in, const torch::Tensor& target,
                            const torch::Tensor& prediction_row, int64_t rows) const {
    torch::NoGradGuard no_grad;
    PackedBatch tb =
        pack_rows(in.teacher_block, in.samples, in.rows, student_.device(), MaskForm::kSpansOnly);
    torch::Tensor block_logits =  // [N, V] the teacher's own block-mode predictions
        teacher_logits(tb.ids, tb.spans, tb.student_flat, tb.positions);
    torch::Tensor kl = kl_per_prediction(target, block_logits, 1.0);  // [N]
    return sensitivity_weights(kl, prediction_row, rows, d_.token_weighting);
  }

  ValResult validation_losses() const {
    torch::NoGradGuard no_grad;
    const SampleStream stream(*s_.validation, t_.seed + kValOrder);
    uint64_t cursor = 0;
    double ce = 0, kl = 0, n = 0;
    for (int64_t i = 0; i < t_.eval_batches; ++i) {
      auto rows = stream.next_rows(cursor, t_.batch_size, t_.seq_len);
      std::vector<std::vector<uint64_t>> mine;
      for (size_t r = 0; r < rows.size(); ++r)
        if (static_cast<int>(r % dp_.world()) == dp_.rank()) mine.push_back(rows[r]);
      if (mine.empty()) continue;
      MicroLoss m = loss(lay_out(*s_.validation, stream, mine, /*training=*/false));
      ce += m.ce_sum.item<double>();
      kl += m.kl_sum.item<double>();
      n += static_cast<double>(m.predictions);
    }
    ce = dp_.all_reduce_sum(ce);
    kl = dp_.all_reduce_sum(kl);
    n = dp_.all_reduce_sum(n);
    return {n > 0 ? ce / n : 0, n > 0 ? kl / n : 0};
  }

  const Setup& s_;
  const DistillSettings& d_;
  const TrainConfig& t_;
  const Model* teacher_;
  const Model& student_;
  DataParallel& dp_;
  const SampleStream stream_;
};

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
  const torch::Tensor ids =  // [1, T]
      torch::tensor(content_ids(s.train.samples.front()), torch::kInt64).unsqueeze(0);
  check_saved_model_reproduces(student, dir, ids.to(student.device()));
  return dir;
}

// OUT/adapter: the trained LoRA adapter in PEFT's layout, with the sinks it was trained with
// (blockattn_adapter.json); reloaded from the files, it must reproduce the trained logits.
std::string export_adapter(Model& student, const Setup& s, const DistillOptions& o) {
  const std::string dir = o.out_dir + "/adapter";
  std::shared_ptr<LoraAdapter> trained = student.shared_adapter();
  save_lora_adapter(*trained, dir);
  LoraBlockSettings settings;
  settings.sink_tokens = s.config.distill.sink_tokens;
  settings.sink_token_id = settings.sink_tokens > 0 ? s.sink_id : -1;
  settings.base_fingerprint = student.fingerprint();
  write_lora_block_settings(settings, dir);
  const torch::Tensor ids =  // [1, T]
      torch::tensor(content_ids(s.train.samples.front()), torch::kInt64)
          .unsqueeze(0)
          .to(student.device());
  torch::NoGradGuard no_grad;
  torch::Tensor want = student.forward_train(ids);  // [1, T, V]
  student.attach_adapter(
      std::make_shared<LoraAdapter>(load_lora_adapter(dir, student.config(), student.device())));
  torch::Tensor got = student.forward_train(ids);  // [1, T, V]
  student.attach_adapter(trained);
  if (!torch::equal(want, got))
    throw Error("the saved adapter in " + dir + " does not reproduce the trained logits");
  return dir;
}

// The device and dtype the training config asks for (each data-parallel rank on its own GPU).
ModelLoadOptions load_options(const DistillOptions& o, const TrainConfig& t) {
  torch::Device device = resolve_device(t.device);
  if (device.is_cuda() && o.world > 1)
    device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(o.rank));
  const bool bf16 = t.dtype == "bfloat16" || (t.dtype == "auto" && device.is_cuda());
  ModelLoadOptions lo;
  lo.device = device.str();
  lo.dtype = bf16 ? "bfloat16" : "float32";
  return lo;
}

// The opening line: the method, the data, the batch and the settings of this run.
void report_start(ProgressLine& progress, const DistillOptions& o, const Setup& s,
                  const Model& student, const torch::Device& device, const DataParallel& dp,
                  int64_t start_step) {
  const TrainConfig& t = s.config.train;
  const DistillSettings& d = s.config.distill;
  char head[512];
  std::snprintf(
      head, sizeof head,
      "%s: %lld parameters, %zu training samples (%llu tokens; %llu trimmed, %llu dropped), %lld "
      "rows x "
      "%lld tokens per step, sinks %d, block dropout %.2f, token weighting %.2f, full fraction "
      "%.2f, %s on "
      "%s x %d (%s)%s",
      method_name(o.method), (long long)student.config().num_parameters(), s.train.samples.size(),
      (unsigned long long)s.train.content_tokens, (unsigned long long)s.train.trimmed,
      (unsigned long long)s.train.dropped, (long long)(t.batch_size * t.grad_accum),
      (long long)t.seq_len, d.sink_tokens, d.block_dropout, d.token_weighting, d.full_fraction,
      student.adapter() ? (student.dtype() == torch::kBFloat16 ? "frozen bf16 base + fp32 adapter"
                                                               : "frozen fp32 base + fp32 adapter")
      : student.dtype() == torch::kBFloat16 ? "bf16 compute + fp32 master weights"
                                            : "fp32",
      device.str().c_str(), o.world, dp.backend().c_str(),
      s.checkpoint.empty() ? "" : (", resuming at step " + std::to_string(start_step)).c_str());
  progress.message(head);
}

// The closing lines: data-parallel agreement, steps, time and throughput of this run.
void report_end(ProgressLine& progress, const DistillOptions& o, const DistillResult& r,
                const DataParallel& dp, int64_t run_steps, double train_s) {
  if (o.world > 1)
    progress.message("data-parallel: " + std::to_string(o.world) +
                     " processes hold identical weights (" + dp.backend() + ")");
  char line[256];
  std::snprintf(line, sizeof line, "%s: %lld steps in %s this run, %.0f sample tokens/s%s%s",
                r.finished ? "done" : "paused", (long long)run_steps,
                format_duration(train_s).c_str(), r.content_tokens_per_s,
                r.finished && o.rank == 0 ? ", saved to " : "", r.model_dir.c_str());
  progress.message(line);
}

}  // namespace

DistillResult run_distill(const DistillOptions& o) {
  TrainLoopOptions loop;  // its run_start: now, before any model is loaded
  loop.out_dir = o.out_dir;
  loop.max_minutes = o.max_minutes;
  loop.max_steps = o.max_steps;
  loop.validate_at_start = true;
  loop.diverged_hint = "lower training.lr";
  loop.writes_files = o.rank == 0;
  const Configs configs = read_configs(o);
  const ModelLoadOptions lo = load_options(o, configs.config.train);
  const std::optional<LoraConfig>& lora = configs.config.distill.lora;
  if (lora && !o.student_dir.empty())
    throw InputError("distill.lora trains an adapter on " + o.teacher_dir +
                     " itself: --student is not used with it");
  std::shared_ptr<Model> teacher;
  if (o.method == BlockTrainMethod::kDistill && !lora) teacher = Model::load(o.teacher_dir, lo);
  std::shared_ptr<Model> student =
      Model::load(o.student_dir.empty() ? o.teacher_dir : o.student_dir, lo);
  // LoRA: one copy of the weights, frozen; the teacher is the same base with the adapter off.
  if (lora && o.method == BlockTrainMethod::kDistill) teacher = student;
  // blockft has no teacher: its checkpoints are tied to the model it started from.
  Setup s = prepare(o, configs, teacher ? teacher->fingerprint() : student->fingerprint());
  const TrainConfig& t = s.config.train;
  if (lora) {
    for (auto& [name, w] : student->weights().named(student->config())) w->set_requires_grad(false);
    auto adapter = std::make_shared<LoraAdapter>(
        new_lora_adapter(student->config(), *lora, student->device(), t.seed));
    adapter->config.base_model = std::filesystem::path(o.teacher_dir).filename().string();
    student->attach_adapter(adapter);
  }
  AdamW opt(
      t, lora ? student->shared_adapter()->named() : student->weights().named(student->config()));
  if (!s.checkpoint.empty()) restore_checkpoint_tensors(s.checkpoint, opt);
  const torch::Device device(lo.device);
  DataParallel dp(o.rank, o.world, o.store_path, device);
  if (t.batch_size % o.world != 0)
    throw InputError("training.batch_size " + std::to_string(t.batch_size) +
                     " is not divisible by --nproc " + std::to_string(o.world));
  loop.data_parallel = &dp;

  if (loop.writes_files) std::filesystem::create_directories(o.out_dir);
  dp.barrier();
  ProgressLine progress(loop.writes_files ? o.progress : nullptr, t.total_steps, t.log_every);
  TrainState state = s.state;
  state.config_json = s.config.canonical_json;
  state.data_fingerprint = s.data_fingerprint;
  std::unique_ptr<MetricsLog> metrics;
  if (loop.writes_files) metrics = std::make_unique<MetricsLog>(o.out_dir + "/metrics.jsonl");
  report_start(progress, o, s, *student, device, dp, state.step);
  if (lora) {
    int64_t trainable = 0;
    for (auto& [name, p] : student->shared_adapter()->named()) trainable += p->numel();
    std::string targets;
    for (const std::string& name : lora->targets) targets += (targets.empty() ? "" : ",") + name;
    progress.message("LoRA: rank " + std::to_string(lora->rank) + " on " + targets + ", " +
                     std::to_string(trainable) + " trainable parameters; the base is frozen" +
                     (teacher ? " and is the teacher with the adapter off" : ""));
  }

  DistillResult r;
  r.start_step = state.step;
  r.total_steps = t.total_steps;
  DistillTask task(s, teacher.get(), *student, dp);
  const TrainLoopResult ran = run_train_loop(t, loop, task, opt, state, progress, metrics.get());
  r.losses = ran.losses;
  r.val_losses = task.val_losses;
  r.val_kl = task.val_kl;
  r.content_tokens = ran.tokens;
  r.end_step = state.step;
  r.content_tokens_per_s = ran.run_steps > 0 ? static_cast<double>(ran.tokens) / ran.train_s : 0;
  if (state.step >= t.total_steps) {
    r.finished = true;
    if (loop.writes_files)
      r.model_dir = lora ? export_adapter(*student, s, o) : export_model(*student, s, o);
    dp.barrier();
  }
  report_end(progress, o, r, dp, ran.run_steps, ran.train_s);
  return r;
}

}  // namespace blockattn::train
