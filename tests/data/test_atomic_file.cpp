// remove_stale_temporary_files(): which leftovers of atomic writes count as stale. A temp that a
// live writer may own (its flock is held, or its pid is another live process) is kept.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "support/scratch_dir.hpp"
#include "tessera/atomic_file.hpp"

namespace tessera {
namespace {

namespace fs = std::filesystem;

TEST(AtomicFile, RemovesOnlyTemporariesNoLiveWriterCanOwn) {
  const fs::path dir = testing::fresh_scratch_dir("atomic");
  pid_t child = ::fork();  // a pid with no process: a child that has exited and been reaped
  if (child == 0) ::_exit(0);
  ::waitpid(child, nullptr, 0);
  const std::string dead = std::to_string(child), self = std::to_string(::getpid());
  auto temp = [&](const std::string& name) {
    std::ofstream(dir / name) << "partial";
    return dir / name;
  };
  // Stale: a dead writer; or this process's pid, unlocked (in a container the next run has the
  // same pid as the killed one).
  const fs::path stale_dead = temp(".a.png.tmp." + dead + ".0"), stale_self = temp(".b.png.tmp." + self + ".7");
  // Kept: another live process's pid (it may be between creating and locking the file); a
  // locked file (a writer, perhaps in another pid namespace); names not of our scheme; a
  // folder and a symbolic link with a temp's name.
  const fs::path live = temp(".c.png.tmp." + std::to_string(::getppid()) + ".0"),
                 locked = temp(".d.png.tmp." + dead + ".1");
  const fs::path foreign[] = {temp("e.png.tmp." + dead + ".0"), temp(".f.png.tmp." + dead),
                              temp("..tmp." + dead + ".0"),     temp(".g.png.tmp.x" + dead + ".0"),
                              temp(".h.png.tmp.0.0"),           temp(".i.png.tmp." + dead + ".")};
  fs::create_directory(dir / (".j.tmp." + dead + ".0"));
  fs::create_symlink(stale_dead, dir / (".k.tmp." + dead + ".0"));
  int fd = ::open(locked.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);

  std::vector<fs::path> removed = remove_stale_temporary_files(dir);
  std::sort(removed.begin(), removed.end());
  EXPECT_EQ(removed, (std::vector<fs::path>{stale_dead, stale_self}));
  for (const fs::path& p : {stale_dead, stale_self}) EXPECT_FALSE(fs::exists(p)) << p;
  for (const fs::path& p : {live, locked}) EXPECT_TRUE(fs::exists(p)) << p;
  for (const fs::path& p : foreign) EXPECT_TRUE(fs::exists(p)) << p;
  EXPECT_TRUE(fs::is_directory(dir / (".j.tmp." + dead + ".0")));
  EXPECT_TRUE(fs::is_symlink(dir / (".k.tmp." + dead + ".0")));

  ::close(fd);  // the writer is gone: now it is stale
  EXPECT_EQ(remove_stale_temporary_files(dir), std::vector<fs::path>{locked});
  EXPECT_TRUE(remove_stale_temporary_files(dir / "no-such-folder").empty());
  fs::remove_all(dir);
}

}  // namespace
}  // namespace tessera
