/* An interposed allocator for the integration tests (LD_PRELOAD). The relay calls
 * pigeon_startup_complete() when start-up ends (boards/host/main.cpp); from then on
 * docs/architecture.md §4 allows no heap, so every allocation is written to the report file
 * named by PIGEON_ALLOC_REPORT, which the tests read. The count of allocations
 * before that point is written too: it proves the guard was really interposed. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void* __libc_malloc(size_t size);
extern void* __libc_calloc(size_t count, size_t size);
extern void* __libc_realloc(void* pointer, size_t size);
extern void* __libc_memalign(size_t alignment, size_t size);
extern void __libc_free(void* pointer);

static int startup_complete;
static unsigned long startup_allocations;

/* Appends one line to the report without allocating: a stack buffer and write(2). */
static void report(const char* format, ...) {
  const char* path = getenv("PIGEON_ALLOC_REPORT");
  if (path == NULL) return;
  char line[160];
  va_list args;
  va_start(args, format);
  const int length = vsnprintf(line, sizeof line, format, args);
  va_end(args);
  const int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return;
  if (length > 0) (void)!write(fd, line, (size_t)length < sizeof line ? (size_t)length : sizeof line - 1);
  close(fd);
}

static void note_allocation(const char* function, size_t size) {
  if (!startup_complete) {
    ++startup_allocations;
    return;
  }
  startup_complete = 0; /* the report itself must not recurse into this path */
  report("allocation after start-up: %s(%zu)\n", function, size);
  startup_complete = 1;
}

void pigeon_startup_complete(void) {
  report("allocations before start-up: %lu\n", startup_allocations);
  startup_complete = 1;
}

void* malloc(size_t size) {
  note_allocation("malloc", size);
  return __libc_malloc(size);
}

void* calloc(size_t count, size_t size) {
  note_allocation("calloc", count * size);
  return __libc_calloc(count, size);
}

void* realloc(void* pointer, size_t size) {
  note_allocation("realloc", size);
  return __libc_realloc(pointer, size);
}

void* memalign(size_t alignment, size_t size) {
  note_allocation("memalign", size);
  return __libc_memalign(alignment, size);
}

void* aligned_alloc(size_t alignment, size_t size) { return memalign(alignment, size); }

int posix_memalign(void** out, size_t alignment, size_t size) {
  void* pointer = memalign(alignment, size);
  if (pointer == NULL) return 12; /* ENOMEM */
  *out = pointer;
  return 0;
}

void free(void* pointer) { __libc_free(pointer); }
