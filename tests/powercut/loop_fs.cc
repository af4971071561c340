#include "powercut/loop_fs.h"

#include <fcntl.h>
#include <linux/loop.h>
#include <sched.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "support/test_support.h"

extern char** environ;

#ifndef FS_IOC_SHUTDOWN
#define FS_IOC_SHUTDOWN _IOR('X', 125, uint32_t)  // ext4 and XFS implement it
#endif

namespace walkit::powercut {
namespace {

constexpr uint32_t kShutdownNoLogFlush = 2;  // FS_SHUTDOWN_FLAGS_NOLOGFLUSH
constexpr uint64_t kMiB = uint64_t{1} << 20;

[[noreturn]] void fail(const std::string& what, int err = errno) {
  throw std::runtime_error(what + (err ? std::string(": ") + std::strerror(err) : ""));
}

// Runs `argv` to completion with its output in `log`; throws unless it exits 0.
void run_program(const std::vector<std::string>& argv, const std::string& log) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  std::vector<char*> args;
  std::vector<std::string> copy = argv;
  for (auto& a : copy) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) fail("cannot run " + argv[0], rc);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::string out;
    try {
      out = test::slurp(log);
    } catch (const std::exception&) {
    }
    fail(argv[0] + " failed (status " + std::to_string(status) + "): " + out, 0);
  }
}

bool is_executable(const std::string& path) { return ::access(path.c_str(), X_OK) == 0; }

}  // namespace

const std::vector<FsConfig>& fs_configs() {
  // 4 KiB blocks everywhere (mke2fs would pick 1 KiB for a small image); the
  // inode tables and journal are initialised by mkfs, so no lazy-init thread
  // writes behind the test's back. XFS refuses images under 300 MiB.
  static const std::vector<FsConfig> kConfigs = {
      {"ext4-ordered",
       "ext4",
       "mkfs.ext4",
       {"-q", "-F", "-b", "4096", "-E", "lazy_itable_init=0,lazy_journal_init=0"},
       "data=ordered",
       64 * kMiB,
       true},
      {"ext4-writeback",
       "ext4",
       "mkfs.ext4",
       {"-q", "-F", "-b", "4096", "-E", "lazy_itable_init=0,lazy_journal_init=0"},
       "data=writeback,nodelalloc",
       64 * kMiB,
       false},
      {"xfs", "xfs", "mkfs.xfs", {"-q", "-f"}, "", 300 * kMiB, true},
  };
  return kConfigs;
}

const FsConfig& fs_config(const std::string& name) {
  for (const FsConfig& c : fs_configs()) {
    if (c.name == name) return c;
  }
  throw std::invalid_argument("no file-system configuration named " + name);
}

std::string find_program(const std::string& name) {
  std::string dirs = std::getenv("PATH") ? std::getenv("PATH") : "";
  dirs += ":/sbin:/usr/sbin";
  std::istringstream in(dirs);
  for (std::string dir; std::getline(in, dir, ':');) {
    if (!dir.empty() && is_executable(dir + "/" + name)) return dir + "/" + name;
  }
  return "";
}

std::string enter_private_mount_namespace() {
  if (::unshare(CLONE_NEWNS) != 0) return std::string("unshare: ") + std::strerror(errno);
  if (::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    return std::string("make / private: ") + std::strerror(errno);
  return "";
}

std::string unavailable_reason(const FsConfig& cfg) {
  if (::geteuid() != 0) return "not root: mounting a loop device needs root";
  if (::access("/dev/loop-control", R_OK | W_OK) != 0)
    return std::string("no usable /dev/loop-control: ") + std::strerror(errno);
  if (find_program(cfg.mkfs).empty()) return cfg.mkfs + " not found";
  try {  // the one sure test: do it once
    test::TempDir tmp;
    LoopFs fs(cfg, tmp.path());
    fs.mount();
    fs.unmount();
  } catch (const std::exception& e) {
    return std::string("trial mkfs + mount failed: ") + e.what();
  }
  return "";
}

LoopFs::LoopFs(const FsConfig& cfg, const std::string& work_dir) : cfg_(cfg) {
  const std::string image = work_dir + "/" + cfg.name + ".img";
  mount_point_ = work_dir + "/mnt-" + cfg.name;
  if (::mkdir(mount_point_.c_str(), 0700) != 0) fail("mkdir " + mount_point_);
  {
    int fd = ::open(image.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) fail("create " + image);
    int rc = ::ftruncate(fd, static_cast<off_t>(cfg.image_bytes));
    int err = errno;
    ::close(fd);
    if (rc != 0) fail("ftruncate " + image, err);
  }
  std::vector<std::string> argv{find_program(cfg.mkfs)};
  if (argv[0].empty()) fail(cfg.mkfs + " not found", 0);
  argv.insert(argv.end(), cfg.mkfs_args.begin(), cfg.mkfs_args.end());
  argv.push_back(image);
  run_program(argv, work_dir + "/" + cfg.name + ".mkfs.log");

  int img = ::open(image.c_str(), O_RDWR | O_CLOEXEC);
  if (img < 0) fail("open " + image);
  int ctl = ::open("/dev/loop-control", O_RDWR | O_CLOEXEC);
  if (ctl < 0) {
    int err = errno;
    ::close(img);
    fail("open /dev/loop-control", err);
  }
  // Another process may take the free device between GET_FREE and CONFIGURE
  // (EBUSY): ask again.
  int err = 0;
  for (int attempt = 0; attempt < 64 && loop_fd_ < 0; ++attempt) {
    int n = ::ioctl(ctl, LOOP_CTL_GET_FREE);
    if (n < 0) {
      err = errno;
      break;
    }
    std::string dev = "/dev/loop" + std::to_string(n);
    int fd = ::open(dev.c_str(), O_RDWR | O_CLOEXEC);  // read-only would make the device so
    if (fd < 0) {
      err = errno;
      if (err == ENOENT) continue;  // the node appears a moment later
      break;
    }
    loop_config lc{};
    lc.fd = static_cast<uint32_t>(img);
    lc.info.lo_flags = LO_FLAGS_AUTOCLEAR;  // detached with its last user, even after a crash
    std::strncpy(reinterpret_cast<char*>(lc.info.lo_file_name), image.c_str(), LO_NAME_SIZE - 1);
    if (::ioctl(fd, LOOP_CONFIGURE, &lc) == 0) {
      // Hold it read-only from now on: a kernel built without
      // BLK_DEV_WRITE_MOUNTED refuses to mount a device open for writing.
      loop_fd_ = ::open(dev.c_str(), O_RDONLY | O_CLOEXEC);
      err = errno;
      ::close(fd);
      if (loop_fd_ >= 0) device_ = dev;
      break;
    }
    err = errno;
    ::close(fd);
    if (err != EBUSY) break;
  }
  ::close(ctl);
  ::close(img);
  ::unlink(image.c_str());  // the loop device holds the only reference now
  if (loop_fd_ < 0) fail("attach a loop device to " + image, err);
}

LoopFs::~LoopFs() {
  if (mounted_ && ::umount2(mount_point_.c_str(), 0) != 0) {
    ::umount2(mount_point_.c_str(), MNT_DETACH);  // lazily: never leave it behind
  }
  if (loop_fd_ >= 0) {
    ::ioctl(loop_fd_, LOOP_CLR_FD, 0);  // or AUTOCLEAR does it once the mount is gone
    ::close(loop_fd_);
  }
  ::rmdir(mount_point_.c_str());
}

void LoopFs::mount() {
  if (::mount(device_.c_str(), mount_point_.c_str(), cfg_.fstype.c_str(), 0,
              cfg_.mount_options.empty() ? nullptr : cfg_.mount_options.c_str()) != 0) {
    fail("mount -t " + cfg_.fstype + " -o '" + cfg_.mount_options + "' " + device_ + " " +
         mount_point_);
  }
  mounted_ = true;
}

void LoopFs::unmount() {
  if (::umount2(mount_point_.c_str(), 0) != 0) fail("umount " + mount_point_);
  mounted_ = false;
}

void LoopFs::cut_power() {
  int fd = ::open(mount_point_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail("open " + mount_point_);
  uint32_t flags = kShutdownNoLogFlush;
  int rc = ::ioctl(fd, FS_IOC_SHUTDOWN, &flags);
  int err = errno;
  ::close(fd);
  if (rc != 0) fail("FS_IOC_SHUTDOWN(NOLOGFLUSH) on " + mount_point_, err);
}

}  // namespace walkit::powercut
