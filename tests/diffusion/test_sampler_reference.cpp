// Every sampler's step - host coefficients (step_coefficients) applied on the device
// (ops::sampler_step, then ops::sampler_blend_known for inpainting) - against
// tools/reference/samplers.py, written from the papers in float64, on the same random inputs;
// and the timestep selection against the same file. All cases go through one python process.
//
// Measure: per case and output tensor, normwise relative error max_i |got_i - ref_i| / max_i |ref_i|
// < 1e-4 (SPEC §10's bound for reference comparisons). Per element it would be meaningless
// here: x_prev = c_x x + c_x0 x0 + c_eps eps + sigma z cancels by design (e.g. DDIM near t = 0).
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "support/run_command.hpp"
#include "support/vulkan_test.hpp"
#include "tessera/error.hpp"
#include "tessera/ops/diffusion.hpp"
#include "tessera/safetensors.hpp"
#include "tessera/sampler_schedule.hpp"

namespace tessera::testing {
namespace {

namespace fs = std::filesystem;

struct Variant {
  const char* name;
  SamplerKind kind;
  double eta;
  DdpmVariance variance;
  bool history;  // DPM-Solver++(2M) multistep (with the previous step's x0)
};
const Variant kVariants[] = {
    {"ddpm-beta", SamplerKind::Ddpm, 0, DdpmVariance::Beta, false},
    {"ddpm-betatilde", SamplerKind::Ddpm, 0, DdpmVariance::BetaTilde, false},
    {"ddim-eta0", SamplerKind::Ddim, 0, DdpmVariance::BetaTilde, false},
    {"ddim-eta0.5", SamplerKind::Ddim, 0.5, DdpmVariance::BetaTilde, false},
    {"dpmpp2m-first", SamplerKind::DpmSolver2M, 0, DdpmVariance::BetaTilde, false},
    {"dpmpp2m-multi", SamplerKind::DpmSolver2M, 0, DdpmVariance::BetaTilde, true},
};

struct Times {
  const char* name;
  int t, prev, last;  // last: the previous step's t when the variant uses history
};
const Times kTimes[] = {
    {"mid", 600, 480, 720},     // a respaced step (DDPM: beta = 1 - ab_600 / ab_480)
    {"to0", 40, 0, 80},         // into the last timestep
    {"final0", 0, -1, 40},      // the final step, to alpha_bar = 1
    {"final999", 999, -1, -1},  // a one-step generation
};

struct Guidance {
  const char* name;
  bool guided;
  double w;
};
const Guidance kGuidance[] = {{"w1", false, 1.0}, {"guided-w1", true, 1.0}, {"guided-w3", true, 3.0}};

struct Case {
  std::string name;
  const Variant* variant;
  Schedule schedule;
  Prediction prediction;
  bool clip;
  const Guidance* guidance;
  StepTimes times;
  bool blend;
  std::vector<float> x, out, z, x0_last, zk;
};

constexpr int kN = 2, kC = 3, kH = 4, kW = 6;

std::span<const std::byte> bytes_of(const std::vector<float>& v) { return std::as_bytes(std::span(v)); }

std::vector<double> read_f32(const SafetensorsFile& f, const std::string& name) {
  const auto& t = f.tensor(name);
  std::vector<float> v(t.data.size() / 4);
  std::memcpy(v.data(), t.data.data(), t.data.size());
  return to_double(v);
}

double normwise_error(const std::vector<float>& got, const std::vector<double>& ref) {
  double err = 0, scale = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (!std::isfinite(got[i])) return INFINITY;
    err = std::max(err, std::fabs(got[i] - ref[i]));
    scale = std::max(scale, std::fabs(ref[i]));
  }
  return scale > 0 ? err / scale : err;
}

class SamplerReferenceTest : public VulkanTest {
 protected:
  void SetUp() override {
    VulkanTest::SetUp();
    dir_ = fs::temp_directory_path() / ("tessera-sampler-ref-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    fs::remove_all(dir_);
    VulkanTest::TearDown();
  }
  fs::path dir_;
};

TEST_F(SamplerReferenceTest, EveryStepMatchesPyTorch) {
  if (!python_has_torch()) GTEST_SKIP() << "/usr/bin/python3 cannot import torch (apt-get install python3-torch)";
  const Shape shape{kN, kC, kH, kW}, guided_shape{2 * kN, kC, kH, kW};
  const size_t n = static_cast<size_t>(shape_numel(shape));
  // One known image and keep mask for every inpainting case: kept, generated and blended pixels.
  std::vector<float> known = random_floats(n / kN, 90), keep(kH * kW);
  for (size_t i = 0; i < keep.size(); ++i) keep[i] = i % 3 == 0 ? 1.0f : i % 3 == 1 ? 0.0f : 0.1f + 0.08f * i;

  std::vector<Case> cases;
  uint64_t seed = 100;
  for (const Variant& v : kVariants)
    for (const Times& tm : kTimes)
      for (Schedule sched : {Schedule::Linear, Schedule::Cosine})
        for (Prediction pred : {Prediction::Eps, Prediction::V})
          for (bool clip : {false, true})
            for (const Guidance& g : kGuidance)
              for (bool blend : {false, true}) {
                Case c;
                c.name = std::string(v.name) + "." + tm.name + "." + schedule_name(sched) + "." +
                         prediction_name(pred) + (clip ? ".clip" : ".noclip") + "." + g.name +
                         (blend ? ".inpaint" : "");
                c.variant = &v;
                c.schedule = sched;
                c.prediction = pred;
                c.clip = clip;
                c.guidance = &g;
                c.times = {tm.t, tm.prev, v.history ? tm.last : -1};
                c.blend = blend;
                c.x = random_floats(n, ++seed, -2, 2);
                c.out = random_floats(g.guided ? 2 * n : n, ++seed, -2, 2);
                c.z = random_floats(n, ++seed, -2, 2);
                c.x0_last = random_floats(n, ++seed, -1, 1);
                if (blend) c.zk = random_floats(n, ++seed, -2, 2);
                cases.push_back(std::move(c));
              }

  // The reference, all cases in one file and one process.
  std::vector<SafetensorsTensorData> tensors;
  std::map<std::string, std::string> meta;
  std::string names;
  char num[32];
  for (const Case& c : cases) {
    const std::string p = c.name + "/";
    names += (names.empty() ? "" : ",") + c.name;
    tensors.push_back({p + "x", SafetensorsDType::F32, shape, bytes_of(c.x)});
    tensors.push_back(
        {p + "model_out", SafetensorsDType::F32, c.guidance->guided ? guided_shape : shape, bytes_of(c.out)});
    tensors.push_back({p + "z", SafetensorsDType::F32, shape, bytes_of(c.z)});
    tensors.push_back({p + "x0_last", SafetensorsDType::F32, shape, bytes_of(c.x0_last)});
    if (c.blend) {
      tensors.push_back({p + "known", SafetensorsDType::F32, {kC, kH, kW}, bytes_of(known)});
      tensors.push_back({p + "zk", SafetensorsDType::F32, shape, bytes_of(c.zk)});
      tensors.push_back({p + "keep", SafetensorsDType::F32, {kH, kW}, bytes_of(keep)});
    }
    meta[p + "sampler"] = to_string(c.variant->kind);
    meta[p + "schedule"] = schedule_name(c.schedule);
    meta[p + "T"] = "1000";
    meta[p + "t"] = std::to_string(c.times.t);
    meta[p + "t_prev"] = std::to_string(c.times.prev);
    meta[p + "t_last"] = std::to_string(c.times.last);
    std::snprintf(num, sizeof num, "%.17g", c.variant->eta);
    meta[p + "eta"] = num;
    meta[p + "variance"] = c.variant->variance == DdpmVariance::Beta ? "beta" : "beta_tilde";
    meta[p + "prediction"] = prediction_name(c.prediction);
    meta[p + "clip"] = c.clip ? "1" : "0";
    meta[p + "guided"] = c.guidance->guided ? "1" : "0";
    std::snprintf(num, sizeof num, "%.17g", c.guidance->w);
    meta[p + "guidance"] = num;
  }
  meta["cases"] = names;
  write_safetensors(dir_ / "in.safetensors", tensors, meta);
  CommandResult py = run_python_reference(
      "sampler_step.py", (dir_ / "in.safetensors").string() + " " + (dir_ / "out.safetensors").string());
  ASSERT_EQ(py.status, 0) << py.output;
  auto ref = SafetensorsFile::load(dir_ / "out.safetensors");

  // The device, one case at a time in the same buffers.
  Tensor x = arena().allocate(shape, DType::F32, "x"), z = arena().allocate(shape, DType::F32, "z");
  Tensor x0 = arena().allocate(shape, DType::F32, "x0"), zk = arena().allocate(shape, DType::F32, "zk");
  Tensor out = arena().allocate(shape, DType::F32, "out"), out2 = arena().allocate(guided_shape, DType::F32, "out2");
  Tensor known_t = arena().allocate({kC, kH, kW}, DType::F32, "known"),
         keep_t = arena().allocate({kH, kW}, DType::F32, "keep");
  upload_f32(known_t, known);
  upload_f32(keep_t, keep);
  const NoiseSchedule linear(Schedule::Linear, 1000), cosine(Schedule::Cosine, 1000);
  double worst = 0;
  std::string worst_name;
  for (const Case& c : cases) {
    const Tensor& model_out = c.guidance->guided ? out2 : out;
    upload_f32(x, c.x);
    upload_f32(model_out, c.out);
    upload_f32(z, c.z);
    upload_f32(x0, c.x0_last);
    StepCoefficients k = step_coefficients(c.schedule == Schedule::Cosine ? cosine : linear, c.variant->kind, c.times,
                                           c.variant->eta, c.variant->variance);
    CommandSequence seq(ctx());
    ops::sampler_step(seq, x, model_out, z, x0, k, c.guidance->w,
                      {c.prediction == Prediction::V, c.clip, c.guidance->guided});
    if (c.blend) {
      upload_f32(zk, c.zk);
      ops::sampler_blend_known(seq, x, known_t, zk, &keep_t, k.a_prev, k.b_prev);
    }
    seq.run();
    for (const char* what : {"x_prev", "x0"}) {
      const Tensor& got = std::strcmp(what, "x0") == 0 ? x0 : x;
      double e = normwise_error(download_f32(got), read_f32(ref, c.name + "/" + what));
      EXPECT_LT(e, 1e-4) << c.name << " " << what;
      if (e > worst) worst = e, worst_name = c.name + " " + what;
    }
  }
  std::printf("[ sampler reference ] %zu cases, worst normwise error %.2e (%s)\n", cases.size(), worst,
              worst_name.c_str());
}

// sampler_timesteps and sampler_step_times (lower-order final included) against samplers.py.
TEST_F(SamplerReferenceTest, TimestepsMatchPyTorch) {
  if (!python_has_torch()) GTEST_SKIP() << "/usr/bin/python3 cannot import torch (apt-get install python3-torch)";
  struct Spec {
    int T, steps;
    double strength;
    SamplerKind kind;
  };
  std::vector<Spec> specs;
  for (int T : {10, 1000})
    for (int steps : {1, 2, 3, 7, 10, 25, 333, 999, 1000, 1001})
      for (double strength : {1.0, 0.5, 0.3, 0.0})
        for (SamplerKind kind : {SamplerKind::Ddim, SamplerKind::DpmSolver2M})
          specs.push_back({T, steps, strength, kind});
  std::string args = "timesteps";
  for (const Spec& s : specs) {
    std::ostringstream o;
    o.precision(17);
    o << " " << s.T << "," << s.steps << "," << s.strength << "," << to_string(s.kind);
    args += o.str();
  }
  CommandResult py = run_python_reference("samplers.py", args);
  ASSERT_EQ(py.status, 0) << py.output;
  std::istringstream lines(py.output);
  for (const Spec& s : specs) {
    std::string line, mine;
    ASSERT_TRUE(std::getline(lines, line)) << "samplers.py printed too few lines:\n" << py.output;
    try {
      std::vector<int> ts = sampler_timesteps(s.T, s.steps, s.strength);
      for (size_t i = 0; i < ts.size(); ++i) {
        StepTimes st = sampler_step_times(ts, i, s.kind);
        if (i) mine += ' ';
        mine += std::to_string(st.t) + ":" + std::to_string(st.prev) + ":" + std::to_string(st.last);
      }
    } catch (const Error&) {
      mine = "error";
    }
    EXPECT_EQ(mine, line) << "T " << s.T << ", steps " << s.steps << ", strength " << s.strength << ", "
                          << to_string(s.kind);
  }
}

}  // namespace
}  // namespace tessera::testing
