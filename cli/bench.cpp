// `tessera bench conv|gemm`: times Tessera kernels by replaying recorded sequences (wall clock) and
// the same cases with PyTorch CPU (tools/bench_torch.py) in the same run; prints a table with
// both rates and their ratio, and optionally JSON.
//
// The case table is family-agnostic: a family (conv, gemm) contributes
// BenchCase rows, each knowing its flop count, how to prepare tensors and record one dispatch,
// and the spec string bench_torch.py understands for the same case.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "args.hpp"
#include "bench_support.hpp"
#include "commands.hpp"
#include "tessera/arena.hpp"
#include "tessera/command_sequence.hpp"
#include "tessera/context.hpp"
#include "tessera/error.hpp"
#include "tessera/ops/conv2d.hpp"
#include "tessera/ops/matmul.hpp"

namespace tessera::cli {

namespace {

struct BenchOptions {
  std::string family;
  std::vector<int> batches{1, 8, 32};
  std::vector<int> channels;         // empty: all
  std::vector<std::string> passes;   // empty: all
  int iters = 5;
  int threads = 0;                   // 0: hardware threads
  std::string json_path;
  std::string torch_script;
  bool torch = true;
  std::string variant;               // "" (the device's) or a name parse_kernel_variant takes
};

// Records one timed operation; called once per repetition in the sequence.
using Recorder = std::function<void(CommandSequence&)>;

struct BenchCase {
  std::string id;          // unique, also the key in bench_torch.py's output
  std::string family;      // "conv"
  std::string pass;        // "fwd", "bwd_data", "bwd_weight", ...
  std::string shape;       // human-readable shape for the table
  std::string torch_spec;  // "pass,key=value,..." for tools/bench_torch.py
  double flops = 0;        // per operation
  VkDeviceSize arena_bytes = 0;
  std::function<Recorder(Arena&)> prepare;  // allocates and fills inputs, returns the recorder
};

struct Result {
  double median_ms = NAN, min_ms = NAN;
  double cpu_ms = NAN;  // process CPU time per operation (all threads), Tessera only
};

double process_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, sep))
    if (!item.empty()) out.push_back(item);
  return out;
}

Tensor random_input(Arena& arena, const Shape& shape, const char* name, float scale) {
  Tensor t = arena.allocate(shape, DType::F32, name);
  std::vector<float> v(static_cast<size_t>(t.numel()));
  std::mt19937 rng(static_cast<uint32_t>(v.size()));
  std::uniform_real_distribution<float> d(-scale, scale);
  for (auto& x : v) x = d(rng);
  upload_f32(t, v);
  return t;
}

// ---- conv family ----------------------------------------------------------------------------
struct ConvShape {
  int64_t channels, size;
};
// U-Net convs: 3x3 stride 1 at 64x64 with 64 channels and 32x32 with 128 and 256 channels.
constexpr ConvShape kUnetConvShapes[] = {{64, 64}, {128, 32}, {256, 32}};

std::vector<BenchCase> conv_cases(const BenchOptions& o, const Context& ctx) {
  std::vector<BenchCase> cases;
  const char* all_passes[] = {"fwd", "bwd_data", "bwd_weight"};
  for (const ConvShape& cs : kUnetConvShapes) {
    if (!o.channels.empty() && std::find(o.channels.begin(), o.channels.end(), cs.channels) == o.channels.end())
      continue;
    for (int64_t n : o.batches)
      for (const char* pass : all_passes) {
        if (!o.passes.empty() && std::find(o.passes.begin(), o.passes.end(), pass) == o.passes.end()) continue;
        ops::Conv2dParams p{3, 1, ops::Padding::Zeros};
        Shape xs{n, cs.channels, cs.size, cs.size};
        Shape ws{cs.channels, cs.channels, 3, 3};
        Shape ys = ops::conv2d_output_shape(xs, cs.channels, p);
        BenchCase c;
        c.family = "conv";
        c.pass = pass;
        c.id = "conv3x3_c" + std::to_string(cs.channels) + "_" + std::to_string(cs.size) + "_b" + std::to_string(n) +
               "_" + pass;
        c.shape = "3x3 s1 " + std::to_string(cs.channels) + "->" + std::to_string(cs.channels) + " ch " +
                  std::to_string(cs.size) + "x" + std::to_string(cs.size) + " N=" + std::to_string(n);
        c.torch_spec = std::string(pass) + ",N=" + std::to_string(n) + ",Ci=" + std::to_string(cs.channels) +
                       ",Co=" + std::to_string(cs.channels) + ",H=" + std::to_string(cs.size) +
                       ",W=" + std::to_string(cs.size) + ",k=3,s=1,pad=zeros";
        c.flops = ops::conv2d_flops(xs, cs.channels, p);
        int64_t scratch = ops::conv2d_backward_weight_scratch_elements(ctx, xs, ws, p);
        c.arena_bytes = static_cast<VkDeviceSize>(shape_numel(xs) + shape_numel(ys) + 2 * shape_numel(ws) +
                                                  cs.channels + scratch) * 4 + (VkDeviceSize(8) << 20);
        std::string which = pass;
        c.prepare = [=](Arena& arena) -> Recorder {
          Tensor x = random_input(arena, xs, "x", 1.0f);
          Tensor w = random_input(arena, ws, "w", 0.1f);
          Tensor b = random_input(arena, {cs.channels}, "b", 0.1f);
          Tensor y = random_input(arena, ys, "y", 1.0f);  // dy for the backward passes
          Tensor dw = arena.allocate(ws, DType::F32, "dw");
          Tensor sc = scratch ? arena.allocate({scratch}, DType::F32, "dw_scratch") : Tensor{};
          if (which == "fwd") return [=](CommandSequence& s) { ops::conv2d_forward(s, x, w, &b, y, p); };
          if (which == "bwd_data")
            return [=](CommandSequence& s) { ops::conv2d_backward_data(s, y, w, x, p, false); };
          return [=](CommandSequence& s) { ops::conv2d_backward_weight(s, x, y, dw, p, sc.valid() ? &sc : nullptr); };
        };
        cases.push_back(std::move(c));
      }
  }
  return cases;
}

// ---- gemm family ----------------------------------------------------------------------------
// One batched product C[b] = op(A[b]) op(B[b]), each operand packed and strided by its size.
struct GemmShape {
  const char* pass;  // the group, for --pass: attn_qk, attn_pv, linear, square
  int64_t m, n, k, batch;
  bool ta, tb;
  const char* what;
};
// Attention at 16x16 (T = 256 tokens), head_dim d = C/heads, batch = N*heads, with the layouts
// attention.cpp uses: scores = Q^T K (T x T x d, A transposed), O = V P^T (d x T x T, B
// transposed). Linear layers (time embedding, ResBlock time projections): x[N, in] W^T, W
// stored [out, in]. Square products for comparison with the usual GEMM figures.
constexpr GemmShape kGemmShapes[] = {
    {"attn_qk", 256, 256, 32, 32, true, false, "scores Q^T K, d=32, N*heads=32"},
    {"attn_qk", 256, 256, 64, 32, true, false, "scores Q^T K, d=64, N*heads=32"},
    {"attn_qk", 256, 256, 32, 128, true, false, "scores Q^T K, d=32, N*heads=128"},
    {"attn_pv", 32, 256, 256, 32, false, true, "out V P^T, d=32, N*heads=32"},
    {"attn_pv", 64, 256, 256, 32, false, true, "out V P^T, d=64, N*heads=32"},
    {"attn_pv", 32, 256, 256, 128, false, true, "out V P^T, d=32, N*heads=128"},
    {"linear", 8, 256, 256, 1, false, true, "linear N=8, 256->256"},
    {"linear", 32, 256, 256, 1, false, true, "linear N=32, 256->256"},
    {"linear", 8, 1024, 256, 1, false, true, "linear N=8, 256->1024"},
    {"linear", 32, 1024, 256, 1, false, true, "linear N=32, 256->1024"},
    {"square", 256, 256, 256, 1, false, false, "square 256"},
    {"square", 512, 512, 512, 1, false, false, "square 512"},
    {"square", 1024, 1024, 1024, 1, false, false, "square 1024"},
};

BenchCase gemm_case(const GemmShape& g) {
  BenchCase c;
  c.family = "gemm";
  c.pass = g.pass;
  c.id = std::string("gemm_") + g.pass + "_" + std::to_string(g.m) + "x" + std::to_string(g.n) + "x" +
         std::to_string(g.k) + "_b" + std::to_string(g.batch);
  c.shape = std::string(g.what) + " (" + (g.ta ? "t" : "n") + (g.tb ? "t" : "n") + ")";
  c.torch_spec = "mm,M=" + std::to_string(g.m) + ",N=" + std::to_string(g.n) + ",K=" + std::to_string(g.k) +
                 ",batch=" + std::to_string(g.batch) + ",ta=" + (g.ta ? "1" : "0") + ",tb=" + (g.tb ? "1" : "0");
  c.flops = static_cast<double>(ops::matmul_flops(g.m, g.n, g.k, g.batch));
  c.arena_bytes =
      static_cast<VkDeviceSize>(g.batch * (g.m * g.k + g.k * g.n + g.m * g.n)) * 4 + (VkDeviceSize(8) << 20);
  c.prepare = [g](Arena& arena) -> Recorder {
    Tensor a = random_input(arena, g.ta ? Shape{g.batch, g.k, g.m} : Shape{g.batch, g.m, g.k}, "a", 1.0f);
    Tensor b = random_input(arena, g.tb ? Shape{g.batch, g.n, g.k} : Shape{g.batch, g.k, g.n}, "b", 1.0f);
    Tensor out = arena.allocate({g.batch, g.m, g.n}, DType::F32, "c");
    return [=](CommandSequence& s) { ops::matmul(s, a, b, out, g.ta, g.tb); };
  };
  return c;
}

std::vector<BenchCase> gemm_cases(const BenchOptions& o, const Context&) {
  std::vector<BenchCase> cases;
  for (const GemmShape& g : kGemmShapes)
    if (o.passes.empty() || std::find(o.passes.begin(), o.passes.end(), g.pass) != o.passes.end())
      cases.push_back(gemm_case(g));
  return cases;
}

using FamilyCases = std::function<std::vector<BenchCase>(const BenchOptions&, const Context&)>;
const std::map<std::string, FamilyCases>& families() {
  static const std::map<std::string, FamilyCases> table{{"conv", conv_cases}, {"gemm", gemm_cases}};
  return table;
}

// ---- timing ---------------------------------------------------------------------------------
Result time_tessera(Context& ctx, const BenchCase& c, int iters) {
  Arena arena(ctx, c.arena_bytes, "bench");
  Recorder record = c.prepare(arena);
  // One replay of a single dispatch (compiles the pipeline, warms caches) sizes the sequence
  // so a replay lasts about 0.25 s: several dispatches amortize the submit + wait cost.
  double once_ms;
  {
    CommandSequence probe(ctx);
    record(probe);
    probe.run();
    auto t0 = std::chrono::steady_clock::now();
    probe.run();
    once_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  }
  int reps = std::clamp(static_cast<int>(250.0 / std::max(once_ms, 1e-3)), 1, 16);
  CommandSequence seq(ctx);
  for (int r = 0; r < reps; ++r) record(seq);
  seq.run();  // warm-up replay
  std::vector<double> ms;
  double cpu0 = process_cpu_ms();
  for (int i = 0; i < iters; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    seq.run();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / reps);
  }
  double cpu_ms = (process_cpu_ms() - cpu0) / (double(iters) * reps);
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms.front(), cpu_ms};
}

// Runs bench_torch.py; fills `results` by case id. Returns a status line for the report.
std::string run_torch(const BenchOptions& o, const std::vector<BenchCase>& cases, int threads,
                      std::map<std::string, Result>& results) {
  std::string args = o.family + " --threads " + std::to_string(threads) + " --iters " + std::to_string(o.iters);
  for (const auto& c : cases) args += " --case '" + c.id + "=" + c.torch_spec + "'";
  TorchRun run = run_bench_torch(find_bench_torch_script(o.torch_script), args);
  for (const auto& [id, t] : run.results) results[id] = Result{t.median_ms, t.min_ms};
  return run.status;
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    if (static_cast<unsigned char>(ch) < 0x20) continue;
    out += ch;
  }
  return out;
}

std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

void usage() {
  std::fprintf(stderr,
               "usage: tessera bench conv|gemm [options]   (or: tessera bench train|sample --help)\n"
               "  --batch LIST       conv: batch sizes (default 1,8,32)\n"
               "  --channels LIST    conv: only the U-Net shapes with these channel counts (64, 128, 256)\n"
               "  --pass LIST        conv: fwd,bwd_data,bwd_weight; gemm: attn_qk,attn_pv,linear,square\n"
               "                     (default all)\n"
               "  --iters N          timed replays per case (default 5; median and best are reported)\n"
               "  --threads N        PyTorch threads (default: hardware threads; lavapipe uses LP_NUM_THREADS)\n"
               "  --variant V        force Tessera's kernel variant: texel-fetch or shared-tiles\n"
               "                     (old names: cpu, gpu; default: the device's)\n"
               "  --json PATH        also write the results as JSON\n"
               "  --no-torch         skip the PyTorch reference\n"
               "  --torch-script P   path of tools/bench_torch.py\n");
}

BenchOptions parse(const std::vector<std::string>& args) {
  Args a(args, {"batch", "channels", "pass", "iters", "threads", "json", "torch-script", "variant"},
         {"no-torch", "help"}, {"WHAT"});
  if (a.has("help")) {
    usage();
    std::exit(0);
  }
  BenchOptions o;
  if (!a.positional().empty()) o.family = a.positional()[0];
  o.batches = a.int_list("batch", o.batches, 1);
  o.channels = a.int_list("channels", o.channels, 1);
  o.passes = split(a.str("pass", ""), ',');
  o.iters = static_cast<int>(a.integer("iters", o.iters, 1, 1'000'000));
  o.threads = static_cast<int>(a.integer("threads", 0, 1, 1024));
  o.json_path = a.str("json", "");
  o.torch = !a.has("no-torch");
  o.torch_script = a.str("torch-script", "");
  o.variant = a.str("variant", "");
  if (a.has("variant") && !parse_kernel_variant(o.variant))
    throw Error("bench: --variant is texel-fetch or shared-tiles (or cpu, gpu), got " + shown(o.variant));
  if (o.family.empty()) {
    usage();
    throw Error("bench: say what to benchmark (conv, gemm, train or sample)");
  }
  if (!families().count(o.family)) throw Error("bench: unknown benchmark '" + o.family + "' (known: conv, gemm, train, sample)");
  return o;
}

}  // namespace

int bench_main(const std::vector<std::string>& args) {
  if (!args.empty() && args[0] == "train") return bench_train_main({args.begin() + 1, args.end()});
  if (!args.empty() && args[0] == "sample") return bench_sample_main({args.begin() + 1, args.end()});
  BenchOptions o = parse(args);
  int threads = o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  ContextOptions co;
  if (!o.variant.empty()) {
    co.force_variant = true;
    co.variant = *parse_kernel_variant(o.variant);
  }
  auto ctx = Context::create(co);
  std::vector<BenchCase> cases = families().at(o.family)(o, *ctx);
  if (cases.empty()) throw Error("bench: the filters select no case");

  char date[64];
  std::time_t now = std::time(nullptr);
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", std::gmtime(&now));
  std::printf("device: %s (%s), kernel variant %s\n", ctx->info().name.c_str(), ctx->info().driver.c_str(),
              kernel_variant_name(ctx->variant()));
  std::string load;  // other work on the machine skews wall-clock rates; say how much there was
  if (std::ifstream f("/proc/loadavg"); f) std::getline(f, load);
  std::printf("date: %s; %zu cases, %d timed replays each; wall clock, median per operation; load average %s\n",
              date, cases.size(), o.iters, load.empty() ? "unknown" : load.c_str());
  std::fflush(stdout);

  std::map<std::string, Result> tessera_results;
  for (const auto& c : cases) {
    tessera_results[c.id] = time_tessera(*ctx, c, o.iters);
    const Result& r = tessera_results[c.id];
    // On a shared machine wall time includes waiting for cores; flops per CPU-second (summed
    // over lavapipe's threads) shows the kernel's efficiency independent of that.
    std::printf("  timed %-36s %9.3f ms wall, %9.3f ms CPU (%.2f GFLOP per CPU-second)\n", c.id.c_str(), r.median_ms,
                r.cpu_ms, c.flops / (r.cpu_ms * 1e6));
    std::fflush(stdout);
  }
  std::map<std::string, Result> torch_results;
  std::string torch_status = o.torch ? run_torch(o, cases, threads, torch_results) : "skipped (--no-torch)";
  bool have_torch = !torch_results.empty();
  std::printf("PyTorch CPU reference: %s\n", torch_status.c_str());
  if (!have_torch) std::printf("PyTorch numbers are missing: %s; Tessera's numbers follow alone.\n", torch_status.c_str());

  std::printf("\n%-36s %-42s %11s %11s %12s %11s %11s %7s\n", "case", "shape", "tessera ms", "best ms",
              "tessera GF/s", "torch ms", "torch GF/s", "ratio");
  std::ostringstream json;
  json << "{\n  \"benchmark\": \"" << o.family << "\",\n  \"device\": \"" << json_escape(ctx->info().name)
       << "\",\n  \"driver\": \"" << json_escape(ctx->info().driver) << "\",\n  \"kernel_variant\": \""
       << kernel_variant_name(ctx->variant()) << "\",\n  \"date\": \"" << date << "\",\n  \"load_average\": \"" << json_escape(load)
       << "\",\n  \"iters\": " << o.iters
       << ",\n  \"torch_threads\": " << threads << ",\n  \"torch\": \"" << json_escape(torch_status)
       << "\",\n  \"results\": [\n";
  for (size_t i = 0; i < cases.size(); ++i) {
    const BenchCase& c = cases[i];
    Result t = tessera_results[c.id];
    Result r = have_torch && torch_results.count(c.id) ? torch_results[c.id] : Result{};
    double t_gf = c.flops / (t.median_ms * 1e6), r_gf = c.flops / (r.median_ms * 1e6);
    double ratio = t_gf / r_gf;
    auto fixed = [](double v, int decimals) {
      if (!std::isfinite(v)) return std::string("-");
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
      return std::string(buf);
    };
    std::printf("%-36s %-42s %11.3f %11.3f %12.2f %11s %11s %7s\n", c.id.c_str(), c.shape.c_str(), t.median_ms,
                t.min_ms, t_gf, fixed(r.median_ms, 3).c_str(), fixed(r_gf, 2).c_str(), fixed(ratio, 2).c_str());
    json << "    {\"id\": \"" << c.id << "\", \"family\": \"" << c.family << "\", \"pass\": \"" << c.pass
         << "\", \"shape\": \"" << c.shape << "\", \"flops\": " << json_number(c.flops)
         << ", \"tessera_ms_median\": " << json_number(t.median_ms) << ", \"tessera_ms_min\": " << json_number(t.min_ms)
         << ", \"tessera_gflops\": " << json_number(t_gf)
         << ", \"tessera_cpu_ms\": " << json_number(t.cpu_ms) << ", \"torch_ms_median\": " << json_number(r.median_ms)
         << ", \"torch_ms_min\": " << json_number(r.min_ms) << ", \"torch_gflops\": " << json_number(r_gf)
         << ", \"ratio\": " << json_number(ratio) << "}" << (i + 1 < cases.size() ? "," : "") << "\n";
  }
  json << "  ]\n}\n";
  std::printf("(ratio = Tessera GFLOP/s / PyTorch GFLOP/s, both from the median; GFLOP/s = %s / time)\n",
              o.family == "gemm" ? "2*M*N*K*batch" : "2*N*Co*Ci*k*k*Ho*Wo");
  if (!o.json_path.empty()) {
    std::ofstream f(o.json_path);
    if (!f) throw Error("bench: cannot write " + o.json_path);
    f << json.str();
    std::printf("JSON written to %s\n", o.json_path.c_str());
  }
  return 0;
}

}  // namespace tessera::cli
