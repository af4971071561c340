#include "support/stack_probe.h"

#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WALKIT_TEST_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define WALKIT_TEST_ASAN 1
#endif
#ifdef WALKIT_TEST_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace walkit::test {
namespace {

constexpr unsigned char kPattern = 0xA5;

struct Job {
  const std::function<void()>* body;
  std::exception_ptr error;
};

void* run(void* arg) {
  Job* job = static_cast<Job*>(arg);
  try {
    (*job->body)();
  } catch (...) {
    job->error = std::current_exception();
  }
  return nullptr;
}

// Not instrumented: ASan may still hold the dead thread's frames poisoned.
#if defined(__clang__) || defined(__GNUC__)
__attribute__((no_sanitize("address")))
#endif
size_t
untouched_bytes(const unsigned char* low, size_t size) {
  size_t i = 0;
  while (i < size && low[i] == kPattern) ++i;
  return i;
}

}  // namespace

size_t peak_stack_use(const std::function<void()>& body, size_t stack_bytes) {
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  stack_bytes = (stack_bytes + page - 1) / page * page;
  void* map = ::mmap(nullptr, stack_bytes + page, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (map == MAP_FAILED) throw std::runtime_error("mmap of a test stack failed");
  auto* guard = static_cast<unsigned char*>(map);
  unsigned char* low = guard + page;  // stacks grow down, toward the guard page
  ::mprotect(guard, page, PROT_NONE);
  std::memset(low, kPattern, stack_bytes);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstack(&attr, low, stack_bytes);
  Job job{&body, nullptr};
  pthread_t thread;
  const int rc = pthread_create(&thread, &attr, run, &job);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    ::munmap(map, stack_bytes + page);
    throw std::runtime_error("pthread_create: " + std::string(std::strerror(rc)));
  }
  pthread_join(thread, nullptr);
  const size_t used = stack_bytes - untouched_bytes(low, stack_bytes);
#ifdef WALKIT_TEST_ASAN
  __asan_unpoison_memory_region(low, stack_bytes);
#endif
  ::munmap(map, stack_bytes + page);
  if (job.error) std::rethrow_exception(job.error);
  return used;
}

}  // namespace walkit::test
