// Sub-commands of the `tessera` tool. Each takes the arguments after its name and returns
// the process exit code; errors are reported as exceptions and printed by main.
#pragma once
#include <string>
#include <vector>

namespace tessera::cli {

int bench_main(const std::vector<std::string>& args);    // cli/bench.cpp
int devices_main(const std::vector<std::string>& args);  // cli/devices.cpp
int train_main(const std::vector<std::string>& args);    // cli/train.cpp
int bench_train_main(const std::vector<std::string>& args);  // cli/bench_train.cpp
int bench_sample_main(const std::vector<std::string>& args);  // cli/bench_sample.cpp
int info_main(const std::vector<std::string>& args);     // cli/info.cpp
int model_main(const std::vector<std::string>& args);    // cli/model_parts.cpp
int hash_main(const std::vector<std::string>& args);     // cli/hash.cpp
int sample_main(const std::vector<std::string>& args);   // cli/sample.cpp

}  // namespace tessera::cli
