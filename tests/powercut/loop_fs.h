// A real file system on a loop device, for the power-cut test: a sparse
// image, mkfs, a loop device, mount/umount, and the shutdown ioctl that cuts
// power without flushing the log.
//
// Leaks are the danger here (a mount or loop device left behind breaks later
// runs and other people's work), so every resource is owned by an RAII object
// and, in addition, enter_private_mount_namespace() puts this process's mounts
// in a namespace of its own: whatever way the process ends, the kernel drops
// them, and the loop device (attached with LO_FLAGS_AUTOCLEAR, image already
// unlinked) goes away with its last user.
//
// Test helpers report failure by throwing std::runtime_error (the test
// runner turns it into a failed case; the destructors clean up).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace walkit::powercut {

struct FsConfig {
  std::string name;                    // "ext4-ordered": used in messages and file names
  std::string fstype;                  // for mount(2)
  std::string mkfs;                    // program name, looked up in PATH and /sbin
  std::vector<std::string> mkfs_args;  // before the image path
  std::string mount_options;           // mount(2) data string
  uint64_t image_bytes = 0;            // sparse image size
  // Appended data reaches the disk before the size that covers it (ext4
  // data=ordered, XFS); without it (ext4 data=writeback) a cut may leave
  // zeros or stale blocks of deleted files inside the unsynced tail.
  bool orders_data = true;
};

const std::vector<FsConfig>& fs_configs();  // ext4 ordered, ext4 writeback+nodelalloc, xfs
const FsConfig& fs_config(const std::string& name);

// Full path of an executable (PATH, then /sbin, /usr/sbin); "" when absent.
std::string find_program(const std::string& name);

// Moves this process into a new mount namespace where nothing propagates
// back. Must run before any thread exists. Returns "" or why not (then mounts
// are still cleaned up by the RAII objects, just not on a hard crash).
std::string enter_private_mount_namespace();

// "" when `cfg` can be exercised here: root, a loop device, the mkfs program,
// and a trial mkfs + mount + umount that works. Otherwise the reason to skip.
std::string unavailable_reason(const FsConfig& cfg);

// One image on one loop device, mounted and unmounted many times.
class LoopFs {
 public:
  // Creates the image under `work_dir` (sparse), runs mkfs, attaches it to a
  // free loop device and unlinks the image file (the device keeps it alive).
  LoopFs(const FsConfig& cfg, const std::string& work_dir);
  ~LoopFs();  // unmounts (lazily if it must) and detaches
  LoopFs(const LoopFs&) = delete;
  LoopFs& operator=(const LoopFs&) = delete;

  void mount();    // at mount_point(); replays the journal after a cut
  void unmount();  // plain umount; throws if busy (a child still holds a file)
  bool mounted() const { return mounted_; }
  const std::string& mount_point() const { return mount_point_; }
  const std::string& device() const { return device_; }

  // The power cut: FS_IOC_SHUTDOWN with FS_SHUTDOWN_FLAGS_NOLOGFLUSH. Every
  // later I/O on the mount fails; what the device holds is what a machine
  // that lost power would find. The mount stays until unmount().
  void cut_power();

 private:
  FsConfig cfg_;
  std::string mount_point_;
  std::string device_;  // /dev/loopN
  int loop_fd_ = -1;    // held open for the lifetime: the device stays attached
  bool mounted_ = false;
};

}  // namespace walkit::powercut
