// Sampling (SPEC §4): DDPM ancestral, DDIM(eta) and DPM-Solver++(2M) with classifier-free
// guidance, img2img and inpainting, every tensor operation on the device.
//
// A Sampler is a plan for one batch, image size and option set. At construction it records
// one command buffer for the start (initial noise, the img2img / inpainting start) and one per
// step (timestep fill, model forward - conditional and null passes as one batch when guided -,
// the update, the known-pixel blend); sampling replays them, the host only writes seeds,
// labels and images between runs. Steps run one at a time, so a caller can spread a
// generation over frames (the plugin's per-frame budget) and show the x0 preview as it goes.
//
// Noise: sample k of a batch draws from its own key (seed_k, kSamplerNoiseStream), element e of
// step slot s at counter s*2P + e (P = C*H*W; slot 0 = start, slot i+1 = step i; the known-pixel
// noise at + P), so an image depends on its seed only, not on the batch it was made in.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "tessera/arena.hpp"
#include "tessera/command_sequence.hpp"
#include "tessera/denoiser.hpp"
#include "tessera/derived_normals.hpp"
#include "tessera/model_file.hpp"
#include "tessera/noise_schedule.hpp"
#include "tessera/parameters.hpp"
#include "tessera/sampler_schedule.hpp"
#include "tessera/unet_config.hpp"

namespace tessera {

inline constexpr uint32_t kSamplerNoiseStream = 0x20000000u;
// Bounds of a generation (tessera.h states the same numbers as TSR_MAX_STEPS, TSR_MAX_GUIDANCE).
inline constexpr int kMaxSamplerSteps = 1000;
inline constexpr double kMaxGuidance = 100.0;

struct SamplerOptions {
  SamplerKind kind = SamplerKind::DpmSolver2M;
  int steps = 25;
  double eta = 0.0;                                  // DDIM: 0 deterministic, 1 DDPM-like
  DdpmVariance variance = DdpmVariance::BetaTilde;  // DDPM
  bool clip_x0 = true;                               // clamp the x0 estimate to [-1, 1]
  bool lower_order_final = true;  // DPM-Solver++(2M): first order into the last timestep (sampler_step_times)
  double guidance = 1.0;       // classifier-free guidance w: eps_null + w (eps_cond - eps_null); 1 = off
  bool force_guided_batch = false;  // run the null pass even at w = 1 (tests of the guided path)
  bool init_image = false;     // img2img: start() takes an init image, noised to `strength`
  double strength = 1.0;       // img2img: fraction of the schedule re-run (0 returns the input)
  bool mask = false;           // inpainting: start() takes a known image and a keep mask

  // The one check of these values; every Sampler runs it, and the CLI and the C API through
  // GenerationRequest::validate. Rules: steps in 1..min(kMaxSamplerSteps, config.timesteps);
  // guidance in [0, kMaxGuidance] (0 is the null prediction alone, 1 is off) and other than 1
  // (or force_guided_batch) only on a class-conditional model; eta in [0, 1] and non-zero only
  // for DDIM (no other sampler has it); strength in [0, 1] and other than 1 only for img2img.
  // Throws Error whose message starts with the field's name ("guidance 101 is outside
  // [0, 100]"), so that a front end can name its own option ("--guidance ...").
  void validate(const UNetConfig& config) const;
};

// What one generation starts from. Images are [C, H, W] in [-1, 1], keep is [H, W] in [0, 1]
// (1 = keep the known pixel, 0 = generate it).
struct SampleRequest {
  std::span<const uint64_t> seeds;   // one per sample
  std::span<const uint32_t> labels;  // one per sample (class-conditional models; num_classes = null)
  std::span<const float> image;      // init image (img2img) and/or known image (inpainting)
  std::span<const float> keep;       // inpainting mask
};

// One generation as every front end describes it: the CLI and the C API fill it from their
// inputs (the viewer through the C API) and call validate(); the C API's jobs keep it. A new
// request field is added here, with its rule in validate().
struct GenerationRequest {
  SamplerOptions options;
  int width = 0, height = 0;
  uint64_t seed = 0;
  uint32_t label = 0;        // resolve_class(); 0 on an unconditional model
  std::vector<float> image;  // init (img2img) / known (inpainting) image [C, H, W] in [-1, 1]
  std::vector<float> keep;   // inpainting [H, W] in [0, 1], 1 = keep the known pixel
  NormalOptions normals;     // the derived normal map's, for a model with height

  // options.validate, check_sample_size, resolve_class(model, label) and normals.validate(). Throws Error
  // (ShapeError for the size) starting with the field's name. (Sampler::load checks the
  // image and mask sizes.)
  void validate(const ModelInfo& model) const;
  // What a Sampler of batch 1 starts from (spans into this request).
  SampleRequest sample_request() const { return {std::span(&seed, 1), std::span(&label, 1), image, keep}; }
};

// Output sizes a Sampler accepts (GenerationRequest::validate checks the same rule): positive
// multiples of config.size_multiple(), at most kMaxSampleSize on a side. Throws ShapeError
// "size WxH ...".
inline constexpr int64_t kMaxSampleSize = 8192;
void check_sample_size(const UNetConfig& config, int64_t width, int64_t height);

class Sampler {
 public:
  // What the constructor of the same arguments (U-Net denoiser) would allocate, and the work of
  // one step (its model forward, a double batch when guided).
  static PlanCost cost(Context& ctx, const UNetConfig& config, const ParameterSet& weights, int batch, int height,
                       int width, const SamplerOptions& options);

  // Builds the denoiser for a model batch (the sample batch, doubled when guided).
  using DenoiserFactory = std::function<std::unique_ptr<Denoiser>(int model_batch)>;

  // The U-Net of `config` with `weights` (used in place, e.g. EMA weights).
  Sampler(Context& ctx, const UNetConfig& config, const ParameterSet& weights, int batch, int height, int width,
          const SamplerOptions& options);
  // Any denoiser; config gives the schedule, prediction, classes and channels.
  Sampler(Context& ctx, const UNetConfig& config, const DenoiserFactory& factory, int batch, int height, int width,
          const SamplerOptions& options);
  ~Sampler();
  Sampler(const Sampler&) = delete;
  Sampler& operator=(const Sampler&) = delete;

  // Uploads the request and runs the start; then step() advances one step at a time.
  void start(const SampleRequest& request);
  bool step();  // runs the next step; false when there was none left

  // The same, with the caller submitting the recorded sequences itself (without waiting, e.g.
  // several steps in one submission): load() uploads the request; then start_sequence() and
  // step_sequence(steps_done()), step_sequence(steps_done() + 1), ... run in that order on
  // one queue (each sequence ends with a full barrier), and step_completed() is called once
  // per step after it has completed, which advances steps_done() and reads its GPU time.
  void load(const SampleRequest& request);
  const CommandSequence& start_sequence() const { return *start_seq_; }
  const CommandSequence& step_sequence(size_t index) const { return *step_seqs_.at(index); }
  void step_completed();
  bool done() const { return started_ && next_step_ == timesteps_.size(); }
  int steps_total() const { return static_cast<int>(timesteps_.size()); }
  int steps_done() const { return static_cast<int>(next_step_); }
  double last_step_gpu_ms() const { return last_step_ms_; }  // 0 where the queue has no timestamps

  // x [N, C, H, W]: the result once done(). Throws Error naming the sample if any value is NaN
  // or infinite (a result is never turned into black pixels silently).
  std::vector<float> image() const;
  std::vector<float> preview() const;  // the current x0 estimate [N, C, H, W]
  const Tensor& image_tensor() const { return x_; }
  const Tensor& preview_tensor() const { return x0_; }

  // start + every step; returns the images.
  std::vector<float> sample(const SampleRequest& request);

  const std::vector<int>& timesteps() const { return timesteps_; }
  bool guided() const { return guided_; }
  int batch() const { return batch_; }
  const Denoiser& denoiser() const { return *model_; }

 private:
  void record(Context& ctx);
  void noise(CommandSequence& seq, const Tensor& out, uint64_t slot, bool known_noise) const;

  UNetConfig config_;
  SamplerOptions options_;
  NoiseSchedule schedule_;
  int batch_, height_, width_;
  bool guided_ = false;
  std::unique_ptr<Denoiser> model_;
  std::unique_ptr<Arena> arena_;
  Tensor x_, x0_, z_, zk_, known_, keep_, keys_;
  std::unique_ptr<CommandSequence> start_seq_;
  std::vector<std::unique_ptr<CommandSequence>> step_seqs_;
  std::vector<int> timesteps_;
  size_t next_step_ = 0;
  bool started_ = false;
  double last_step_ms_ = 0;
};

}  // namespace tessera
