/*
 * The whole native layer of the `btrfs` package: the few syscalls Node.js lacks.
 *
 * Contract
 * - Every call returns the syscall's integer result (>= 0) or -errno. Nothing here throws for an OS
 *   failure and nothing here knows a btrfs struct or ioctl number: TypeScript encodes the arguments,
 *   decodes the results and builds the errors (src/native.ts, src/op.ts, src/errors.ts).
 * - Misuse of the binding itself (wrong argument types, a pointer patch outside its buffer) throws a
 *   TypeError/RangeError; it never crashes the process.
 * - Buffers: an ioctl argument is a Buffer/Uint8Array the kernel reads and writes in place. After a
 *   failure (EOVERFLOW from TREE_SEARCH_V2 or GET_SUBVOL_ROOTREF, say) the caller's buffer holds
 *   whatever the kernel wrote, so nothing needs to be "handed back". Async calls keep a reference to
 *   every buffer they use until they settle, so the GC cannot free memory the kernel is writing.
 * - Pointer patches: some arguments carry the address of a second buffer (btrfs_ioctl_vol_args_v2's
 *   qgroup_inherit). A patch [offset, buffer] writes that buffer's address, as a host-order u64, at
 *   `offset` in the argument just before the call.
 * - Descriptor patch: a patch [offset, { path, flags, size }] opens `path` for the call and writes
 *   the descriptor (a 4- or 8-byte host-order integer) at `offset`, for arguments that carry a file
 *   (LOOP_CONFIGURE's backing file): one crossing instead of an open, the ioctl and a close. It is
 *   opened first and closed after the ioctl; a failed open comes back as -(0x20000 + errno).
 * - Composite step: ioctlAt(path, openFlags, request, arg) does open + ioctl + close in one crossing,
 *   since for one-ioctl questions the crossings (and Node's fs.openSync) cost more than the syscalls.
 *   A failed open comes back as -(0x10000 + errno), so the caller can tell which step failed.
 * - statx(dirfd, path, flags, mask, buf): the raw syscall, which Node does not expose (its fs.stat
 *   uses statx but returns neither the mask nor the attributes, and builds a Stats object per call).
 *   `buf` receives the 256-byte struct statx; TypeScript decodes it. Called through syscall(2), so
 *   the addon keeps its glibc 2.17 floor (glibc's wrapper came in 2.28).
 * - Threads: one body (run_call) serves the sync entry point and both async paths, as libuv's fs.c
 *   does. Async calls normally run on the libuv threadpool; a call marked `blocking` (a transaction
 *   commit, a wait of unknown length) runs on a thread of its own so it cannot starve the 4 pool
 *   threads that fs, dns and zlib share. Requests are unsigned 32-bit numbers: the dir bits put many
 *   above 2^31.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Bind to the oldest versions of the pthread symbols, so the addon loads on glibc before 2.34
 * (where pthread moved into libc with new symbol versions). The floor is then glibc 2.17. */
#if defined(__x86_64__)
__asm__(".symver pthread_create,pthread_create@GLIBC_2.2.5");
__asm__(".symver pthread_attr_setstacksize,pthread_attr_setstacksize@GLIBC_2.2.5");
#elif defined(__aarch64__)
__asm__(".symver pthread_create,pthread_create@GLIBC_2.17");
__asm__(".symver pthread_attr_setstacksize,pthread_attr_setstacksize@GLIBC_2.17");
#endif

#define MAX_PATCHES 4
#define MAX_REFS (1 + MAX_PATCHES)
#define BLOCKING_STACK_SIZE (256 * 1024)
/* Blocking-call threads wait this long for more work before exiting. */
#define BLOCKING_IDLE_SECONDS 2
#define MAX_BLOCKING_THREADS 1024

enum call_kind { CALL_IOCTL, CALL_IOCTL_AT, CALL_MOUNT, CALL_UMOUNT2, CALL_STATX };
/* struct statx is 256 bytes in every kernel since 4.11 (spare room included). */
#define STATX_SIZE 256

/* ioctlAt reports a failed open(2) as -(OPEN_FAILED_BASE + errno), a failed ioctl as -errno. */
#define OPEN_FAILED_BASE 0x10000
/* A descriptor patch's failed open(2) comes back as -(FILE_OPEN_FAILED_BASE + errno). */
#define FILE_OPEN_FAILED_BASE 0x20000
enum arg_kind { ARG_NONE, ARG_BUFFER, ARG_INTEGER };

struct call {
  enum call_kind kind;
  /* ioctl */
  int fd;
  int open_flags; /* ioctlAt: open(path, open_flags), ioctl, close in one crossing */
  unsigned long request;
  enum arg_kind arg_kind;
  void *arg;
  size_t arg_len;
  unsigned long arg_value;
  size_t patch_offset[MAX_PATCHES];
  void *patch_target[MAX_PATCHES];
  int npatches;
  /* descriptor patch (at most one): open file_path with file_flags for the call, write the
   * descriptor (file_size bytes, host order) at file_offset in the argument, close it afterwards */
  char *file_path;
  int file_flags;
  size_t file_offset, file_size;
  /* ioctlAt's path (in `target`), mount / umount2: strings owned by the call (NULL allowed where
   * the syscall allows it) */
  char *source, *target, *fstype, *data;
  /* `target` lives here when it fits (most paths): no malloc on the per-call path */
  char target_inline[256];
  unsigned long flags;
  /* result: >= 0, or -errno */
  int64_t result;
  /* async bookkeeping */
  napi_deferred deferred;
  napi_ref refs[MAX_REFS];
  int nrefs;
  napi_async_work work;
  napi_threadsafe_function tsfn; /* blocking calls: the environment's, acquired for this call */
  struct env_state *state;      /* blocking calls: the environment's bookkeeping (see env_state) */
  struct call *next; /* blocking-call queue link */
};

/* The one body every entry point runs. */
static long do_ioctl(struct call *c) {
  for (int i = 0; i < c->npatches; i++) {
    uint64_t address = (uint64_t)(uintptr_t)c->patch_target[i];
    memcpy((char *)c->arg + c->patch_offset[i], &address, sizeof address);
  }
  if (c->arg_kind == ARG_BUFFER) return ioctl(c->fd, c->request, c->arg);
  return ioctl(c->fd, c->request, c->arg_kind == ARG_INTEGER ? c->arg_value : 0UL);
}

/* The syscall a call names. */
static void run_syscall(struct call *c) {
  long rc = -1;
  switch (c->kind) {
  case CALL_IOCTL:
    rc = do_ioctl(c);
    break;
  case CALL_IOCTL_AT:
    c->fd = open(c->target, c->open_flags | O_CLOEXEC);
    if (c->fd < 0) {
      c->result = -(int64_t)(OPEN_FAILED_BASE + errno);
      return;
    }
    rc = do_ioctl(c);
    if (rc < 0) {
      int saved = errno;
      close(c->fd);
      c->result = -(int64_t)saved;
      return;
    }
    close(c->fd);
    break;
  case CALL_MOUNT:
    rc = mount(c->source, c->target, c->fstype, c->flags, c->data);
    break;
  case CALL_UMOUNT2:
    rc = umount2(c->target, (int)c->flags);
    break;
  case CALL_STATX:
    /* fd: dirfd, open_flags: AT_* flags, arg_value: the mask, arg: the 256-byte result */
    rc = syscall(SYS_statx, c->fd, c->target, c->open_flags, (unsigned int)c->arg_value, c->arg);
    break;
  }
  c->result = rc < 0 ? -(int64_t)errno : (int64_t)rc;
}

/* The one body every entry point runs: the syscall, with a descriptor patch's file open around it. */
static void run_call(struct call *c) {
  if (c->file_path == NULL) {
    run_syscall(c);
    return;
  }
  /* The file is opened first: when both it and the target fail, its error is the one reported. */
  int file_fd = open(c->file_path, c->file_flags | O_CLOEXEC);
  if (file_fd < 0) {
    c->result = -(int64_t)(FILE_OPEN_FAILED_BASE + errno);
    return;
  }
  int64_t wide = file_fd;
  int32_t narrow = file_fd;
  memcpy((char *)c->arg + c->file_offset, c->file_size == 8 ? (void *)&wide : (void *)&narrow, c->file_size);
  run_syscall(c);
  close(file_fd); /* the kernel took its own reference if it keeps the file */
}

static void free_call_fields(napi_env env, struct call *c) {
  if (env != NULL)
    for (int i = 0; i < c->nrefs; i++) napi_delete_reference(env, c->refs[i]);
  free(c->source);
  free(c->file_path);
  if (c->target != c->target_inline) free(c->target);
  free(c->fstype);
  free(c->data);
}

static void free_call(napi_env env, struct call *c) {
  free_call_fields(env, c);
  free(c);
}

/* ---- argument helpers: on misuse they throw and return 0 ---- */

#define CHECK(env, expr)                                                                          \
  do {                                                                                            \
    if ((expr) != napi_ok) {                                                                      \
      const napi_extended_error_info *info_;                                                      \
      napi_get_last_error_info((env), &info_);                                                    \
      bool pending_;                                                                              \
      napi_is_exception_pending((env), &pending_);                                                \
      if (!pending_)                                                                              \
        napi_throw_error((env), NULL, info_->error_message ? info_->error_message : "N-API call failed"); \
      return 0;                                                                                   \
    }                                                                                             \
  } while (0)

static int get_bytes(napi_env env, napi_value value, void **data, size_t *len, int *ok) {
  bool is_buffer = false, is_typed = false;
  *ok = 0;
  CHECK(env, napi_is_buffer(env, value, &is_buffer));
  if (is_buffer) {
    CHECK(env, napi_get_buffer_info(env, value, data, len));
    *ok = 1;
    return 1;
  }
  CHECK(env, napi_is_typedarray(env, value, &is_typed));
  if (is_typed) {
    napi_typedarray_type type;
    size_t length, offset;
    napi_value arraybuffer;
    CHECK(env, napi_get_typedarray_info(env, value, &type, &length, data, &arraybuffer, &offset));
    if (type == napi_uint8_array || type == napi_int8_array || type == napi_uint8_clamped_array) {
      *len = length;
      *ok = 1;
    }
  }
  return 1;
}

/* The value's own conversion reports a wrong type (napi_number_expected): no separate typeof. */
static int get_int32(napi_env env, napi_value value, const char *what, int32_t *out) {
  napi_status status = napi_get_value_int32(env, value, out);
  if (status == napi_number_expected) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", what);
    return 0;
  }
  CHECK(env, status);
  return 1;
}

static int get_uint32(napi_env env, napi_value value, const char *what, uint32_t *out) {
  double number;
  napi_status status = napi_get_value_double(env, value, &number);
  if (status == napi_number_expected) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", what);
    return 0;
  }
  CHECK(env, status);
  if (!(number >= 0 && number <= 4294967295.0) || number != (double)(uint32_t)number) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", what);
    return 0;
  }
  *out = (uint32_t)number;
  return 1;
}

/*
 * NULL/undefined gives NULL; a string is copied (into `inline_buf` when given and the string fits,
 * else into malloc'd memory); anything else is a TypeError.
 */
static int get_optional_string_into(napi_env env, napi_value value, const char *what, char **out, char *inline_buf, size_t inline_size) {
  size_t len;
  *out = NULL;
  napi_status status = inline_buf != NULL ? napi_get_value_string_utf8(env, value, inline_buf, inline_size, &len)
                                          : napi_get_value_string_utf8(env, value, NULL, 0, &len);
  if (status == napi_string_expected) {
    napi_valuetype type;
    CHECK(env, napi_typeof(env, value, &type));
    if (type == napi_null || type == napi_undefined) return 1;
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", what);
    return 0;
  }
  CHECK(env, status);
  if (inline_buf != NULL && len + 4 < inline_size) {
    /* It fitted: a cut string leaves less than one UTF-8 character (4 bytes) of the buffer unused. */
    *out = inline_buf;
  } else {
    if (inline_buf != NULL) CHECK(env, napi_get_value_string_utf8(env, value, NULL, 0, &len));
    *out = malloc(len + 1);
    if (*out == NULL) {
      napi_throw_error(env, "ENOMEM", "out of memory");
      return 0;
    }
    CHECK(env, napi_get_value_string_utf8(env, value, *out, len + 1, &len));
  }
  if (strlen(*out) != len) { /* an embedded NUL would silently shorten the path */
    napi_throw_type_error(env, "ERR_INVALID_ARG_VALUE", what);
    return 0;
  }
  return 1;
}

static int get_optional_string(napi_env env, napi_value value, const char *what, char **out) {
  return get_optional_string_into(env, value, what, out, NULL, 0);
}

static int keep(napi_env env, struct call *c, napi_value value) {
  CHECK(env, napi_create_reference(env, value, 1, &c->refs[c->nrefs]));
  c->nrefs++;
  return 1;
}

/* ioctl(fd, request, arg, patches?) where arg is a Buffer/Uint8Array, an integer, or null/undefined,
 * and patches is [offset, buffer, offset, buffer, ...]. With `async` set, buffers are kept alive. */
static int parse_ioctl_rest(napi_env env, napi_value *argv, size_t argc, struct call *c, int async);

static int parse_ioctl(napi_env env, napi_value *argv, size_t argc, struct call *c, int async) {
  c->kind = CALL_IOCTL;
  if (argc < 2) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "ioctl(fd, request, arg?, patches?)");
    return 0;
  }
  if (!get_int32(env, argv[0], "fd must be a number", &c->fd)) return 0;
  return parse_ioctl_rest(env, argv, argc, c, async);
}

/* ioctlAt(path, openFlags, request, arg?, patches?): the same with a path opened for the call. */
static int parse_ioctl_at(napi_env env, napi_value *argv, size_t argc, struct call *c, int async) {
  c->kind = CALL_IOCTL_AT;
  if (argc < 3) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "ioctlAt(path, openFlags, request, arg?, patches?)");
    return 0;
  }
  if (!get_optional_string_into(env, argv[0], "path must be a string", &c->target, c->target_inline, sizeof c->target_inline)) return 0;
  if (c->target == NULL) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "path must be a string");
    return 0;
  }
  if (!get_int32(env, argv[1], "openFlags must be a number", &c->open_flags)) return 0;
  return parse_ioctl_rest(env, argv + 1, argc - 1, c, async);
}

/* A Buffer or a Uint8Array-like typed array (what get_bytes takes). */
static bool is_bytes(napi_env env, napi_value value) {
  bool yes = false;
  if (napi_is_buffer(env, value, &yes) == napi_ok && yes) return true;
  return napi_is_typedarray(env, value, &yes) == napi_ok && yes;
}

/*
 * A descriptor patch [offset, { path, flags, size }]: the call opens `path` with `flags`, writes the
 * descriptor as a `size`-byte (4 or 8) host-order integer at `offset` in the argument, and closes it
 * after the ioctl. For arguments that carry a file (LOOP_CONFIGURE's backing file, SNAP_CREATE's
 * source), so that opening it costs no crossing of its own. At most one per call.
 */
static int parse_file_patch(napi_env env, napi_value spec, uint32_t offset, struct call *c) {
  napi_value path_value, flags_value, size_value;
  uint32_t size;
  if (c->file_path != NULL) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "patches holds at most one descriptor patch");
    return 0;
  }
  CHECK(env, napi_get_named_property(env, spec, "path", &path_value));
  CHECK(env, napi_get_named_property(env, spec, "flags", &flags_value));
  CHECK(env, napi_get_named_property(env, spec, "size", &size_value));
  if (!get_int32(env, flags_value, "descriptor patch flags must be a number", &c->file_flags)) return 0;
  if (!get_uint32(env, size_value, "descriptor patch size must be 4 or 8", &size)) return 0;
  if (size != 4 && size != 8) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "descriptor patch size must be 4 or 8");
    return 0;
  }
  if ((size_t)offset + size > c->arg_len) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "descriptor patch offset + size exceeds the argument buffer");
    return 0;
  }
  if (!get_optional_string(env, path_value, "descriptor patch path must be a string", &c->file_path)) return 0;
  if (c->file_path == NULL) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "descriptor patch path must be a string");
    return 0;
  }
  c->file_offset = offset;
  c->file_size = size;
  return 1;
}

/* argv[1] is the request, argv[2] the argument, argv[3] the patches. */
static int parse_ioctl_rest(napi_env env, napi_value *argv, size_t argc, struct call *c, int async) {
  uint32_t request;
  napi_valuetype type;
  if (!get_uint32(env, argv[1], "request must be an unsigned 32-bit integer", &request)) return 0;
  c->request = request;
  c->arg_kind = ARG_NONE;
  if (argc > 2) {
    CHECK(env, napi_typeof(env, argv[2], &type));
    if (type == napi_number) {
      double value;
      CHECK(env, napi_get_value_double(env, argv[2], &value));
      if (!(value >= 0 && value <= 9007199254740991.0) || value != (double)(uint64_t)value) {
        napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "an integer ioctl argument must be a safe non-negative integer");
        return 0;
      }
      c->arg_kind = ARG_INTEGER;
      c->arg_value = (unsigned long)value;
    } else if (type != napi_null && type != napi_undefined) {
      int ok;
      if (!get_bytes(env, argv[2], &c->arg, &c->arg_len, &ok)) return 0;
      if (!ok) {
        napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "arg must be a Buffer, Uint8Array, integer or null");
        return 0;
      }
      c->arg_kind = ARG_BUFFER;
      if (async && !keep(env, c, argv[2])) return 0;
    }
  }
  if (argc > 3) {
    bool is_array;
    uint32_t length;
    CHECK(env, napi_typeof(env, argv[3], &type));
    if (type != napi_null && type != napi_undefined) {
      CHECK(env, napi_is_array(env, argv[3], &is_array));
      if (!is_array) {
        napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "patches must be an array [offset, buffer, ...]");
        return 0;
      }
      CHECK(env, napi_get_array_length(env, argv[3], &length));
      if (length % 2 != 0 || length / 2 > MAX_PATCHES) {
        napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "patches holds at most 4 [offset, buffer] pairs");
        return 0;
      }
      if (length > 0 && c->arg_kind != ARG_BUFFER) {
        napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "patches need a buffer argument");
        return 0;
      }
      for (uint32_t i = 0; i < length; i += 2) {
        napi_value offset_value, target_value;
        uint32_t offset;
        size_t target_len;
        int ok;
        CHECK(env, napi_get_element(env, argv[3], i, &offset_value));
        CHECK(env, napi_get_element(env, argv[3], i + 1, &target_value));
        if (!get_uint32(env, offset_value, "patch offset must be a non-negative integer", &offset)) return 0;
        CHECK(env, napi_typeof(env, target_value, &type));
        if (type == napi_object && !is_bytes(env, target_value)) {
          if (!parse_file_patch(env, target_value, offset, c)) return 0;
          continue;
        }
        if ((size_t)offset + sizeof(uint64_t) > c->arg_len) {
          napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "patch offset + 8 exceeds the argument buffer");
          return 0;
        }
        if (!get_bytes(env, target_value, &c->patch_target[c->npatches], &target_len, &ok)) return 0;
        if (!ok) {
          napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "patch target must be a Buffer or Uint8Array");
          return 0;
        }
        c->patch_offset[c->npatches++] = offset;
        if (async && !keep(env, c, target_value)) return 0;
      }
    }
  }
  return 1;
}

/* mount(source, target, fstype, flags, data): source, fstype and data may be null. */
static int parse_mount(napi_env env, napi_value *argv, size_t argc, struct call *c) {
  double flags;
  napi_valuetype type;
  c->kind = CALL_MOUNT;
  if (argc < 5) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "mount(source, target, fstype, flags, data)");
    return 0;
  }
  if (!get_optional_string(env, argv[0], "source must be a string or null", &c->source)) return 0;
  if (!get_optional_string(env, argv[1], "target must be a string", &c->target)) return 0;
  if (c->target == NULL) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "target must be a string");
    return 0;
  }
  if (!get_optional_string(env, argv[2], "fstype must be a string or null", &c->fstype)) return 0;
  CHECK(env, napi_typeof(env, argv[3], &type));
  if (type != napi_number) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "flags must be a number");
    return 0;
  }
  CHECK(env, napi_get_value_double(env, argv[3], &flags));
  if (!(flags >= 0 && flags <= 4294967295.0) || flags != (double)(uint32_t)flags) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "flags must be an unsigned 32-bit integer");
    return 0;
  }
  c->flags = (unsigned long)flags;
  if (!get_optional_string(env, argv[4], "data must be a string or null", &c->data)) return 0;
  return 1;
}

/* umount2(target, flags) */
static int parse_umount2(napi_env env, napi_value *argv, size_t argc, struct call *c) {
  uint32_t flags;
  c->kind = CALL_UMOUNT2;
  if (argc < 2) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "umount2(target, flags)");
    return 0;
  }
  if (!get_optional_string(env, argv[0], "target must be a string", &c->target)) return 0;
  if (c->target == NULL) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "target must be a string");
    return 0;
  }
  if (!get_uint32(env, argv[1], "flags must be an unsigned 32-bit integer", &flags)) return 0;
  c->flags = flags;
  return 1;
}

/* statx(dirfd, path, flags, mask, buf): buf a Buffer/Uint8Array of at least 256 bytes. */
static int parse_statx(napi_env env, napi_value *argv, size_t argc, struct call *c, int async) {
  uint32_t mask;
  int ok;
  c->kind = CALL_STATX;
  if (argc < 5) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "statx(dirfd, path, flags, mask, buf)");
    return 0;
  }
  if (!get_int32(env, argv[0], "dirfd must be a number", &c->fd)) return 0;
  if (!get_optional_string_into(env, argv[1], "path must be a string", &c->target, c->target_inline, sizeof c->target_inline)) return 0;
  if (c->target == NULL) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "path must be a string");
    return 0;
  }
  if (!get_int32(env, argv[2], "flags must be a number", &c->open_flags)) return 0;
  if (!get_uint32(env, argv[3], "mask must be an unsigned 32-bit integer", &mask)) return 0;
  c->arg_value = mask;
  if (!get_bytes(env, argv[4], &c->arg, &c->arg_len, &ok)) return 0;
  if (!ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "buf must be a Buffer or Uint8Array");
    return 0;
  }
  if (c->arg_len < STATX_SIZE) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "buf must hold at least 256 bytes (struct statx)");
    return 0;
  }
  c->arg_kind = ARG_BUFFER;
  if (async && !keep(env, c, argv[4])) return 0;
  return 1;
}

typedef int (*parse_fn)(napi_env, napi_value *, size_t, struct call *, int);

static int parse_mount_any(napi_env env, napi_value *argv, size_t argc, struct call *c, int async) {
  (void)async;
  return parse_mount(env, argv, argc, c);
}

static int parse_umount2_any(napi_env env, napi_value *argv, size_t argc, struct call *c, int async) {
  (void)async;
  return parse_umount2(env, argv, argc, c);
}

/* ---- sync entry points ---- */

static napi_value call_sync(napi_env env, napi_callback_info info, parse_fn parse) {
  napi_value argv[5], out = NULL;
  size_t argc = 5;
  struct call c; /* on the stack: a sync call keeps nothing past its return */
  memset(&c, 0, sizeof c);
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) == napi_ok && parse(env, argv, argc, &c, 0)) {
    run_call(&c);
    napi_create_int64(env, c.result, &out);
  }
  free_call_fields(env, &c);
  return out;
}

static napi_value ioctl_sync(napi_env env, napi_callback_info info) { return call_sync(env, info, parse_ioctl); }
static napi_value statx_sync(napi_env env, napi_callback_info info) { return call_sync(env, info, parse_statx); }
static napi_value ioctl_at_sync(napi_env env, napi_callback_info info) { return call_sync(env, info, parse_ioctl_at); }
static napi_value mount_sync(napi_env env, napi_callback_info info) { return call_sync(env, info, parse_mount_any); }
static napi_value umount2_sync(napi_env env, napi_callback_info info) { return call_sync(env, info, parse_umount2_any); }

/* ---- async: settle on the JS thread, whichever thread ran the call ---- */

static void settle(napi_env env, struct call *c) {
  napi_value value;
  napi_create_int64(env, c->result, &value);
  napi_resolve_deferred(env, c->deferred, value);
}

/* libuv threadpool path */
static void pool_execute(napi_env env, void *data) {
  (void)env;
  run_call(data);
}

static void pool_complete(napi_env env, napi_status status, void *data) {
  struct call *c = data;
  if (status == napi_ok) {
    settle(env, c);
  } else {
    napi_value error, message;
    napi_create_string_utf8(env, "async call cancelled", NAPI_AUTO_LENGTH, &message);
    napi_create_error(env, NULL, message, &error);
    napi_reject_deferred(env, c->deferred, error);
  }
  napi_delete_async_work(env, c->work);
  free_call(env, c);
}

/*
 * Dedicated-thread path. Each environment (the main thread, each worker) has one threadsafe function
 * through which the threads hand finished calls back. Creating one per call cost the event loop more
 * than the call (a uv_async handle opened and closed each time: half the main thread's time with 64
 * creates in flight). It is referenced only while calls are pending, so an idle addon never keeps
 * the loop alive; each call acquires it, so it outlives every thread that may still use it.
 */
struct env_state {
  napi_threadsafe_function tsfn;
  size_t pending; /* touched on the JS thread only */
  /*
   * Teardown, under blocking_lock. Node deletes a threadsafe function when its environment is torn
   * down, whatever threads still hold it, so a thread that handed a call back just before the end
   * and then released the function touched freed memory (Node's mutex then aborts: about one exit
   * in 150 after an async snapshot). So: `closing` is set by a cleanup hook that runs before the
   * function's own, which waits until no thread is between its call and its release (`in_call`);
   * threads finishing later drop their call without touching the function. The state itself is
   * freed by whichever comes last, the environment (`finalized`) or the last call (`outstanding`).
   */
  bool closing, finalized;
  int in_call;
  size_t outstanding;
};

/* The blocking threads' lock (see below); it also guards each env_state's teardown fields. */
static pthread_mutex_t blocking_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hand_back_done = PTHREAD_COND_INITIALIZER;

static void thread_complete(napi_env env, napi_value js_callback, void *context, void *data) {
  (void)js_callback;
  struct env_state *state = context;
  struct call *c = data;
  if (env != NULL) { /* NULL while the environment is being torn down */
    settle(env, c);
    if (--state->pending == 0) napi_unref_threadsafe_function(env, state->tsfn);
  }
  free_call(env, c);
}

static void free_env_state(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  struct env_state *state = data;
  pthread_mutex_lock(&blocking_lock);
  state->closing = true;
  state->finalized = true;
  bool last = state->outstanding == 0;
  pthread_mutex_unlock(&blocking_lock);
  if (last) free(state);
}

/* The environment's cleanup hook (see env_state): no thread touches its threadsafe function after. */
static void env_closing(void *data) {
  struct env_state *state = data;
  pthread_mutex_lock(&blocking_lock);
  state->closing = true;
  while (state->in_call > 0) pthread_cond_wait(&hand_back_done, &blocking_lock);
  pthread_mutex_unlock(&blocking_lock);
}

/*
 * Threads for blocking calls. Unlike the libuv pool, this pool grows: a call is queued and a new
 * thread is started whenever more calls wait than threads are idle, so no blocking call ever waits
 * behind another. Idle threads linger BLOCKING_IDLE_SECONDS for the next call (creating a thread
 * per call doubled the cost of short calls), then exit. It is process-wide and knows no btrfs: each
 * call carries the threadsafe function of the environment (main thread or worker) that made it.
 * New threads are started by the threads themselves, one after another while calls wait: a burst
 * of 64 blocking calls costs the event loop at most one pthread_create, not 64.
 */
static pthread_cond_t blocking_wake = PTHREAD_COND_INITIALIZER;
static struct call *queue_head, *queue_tail;
static int queued, idle_threads, blocking_threads, starting_threads;

static void *blocking_main(void *unused);

/* With the lock held: whether one more thread should start, because calls wait that no idle or
 * starting thread will take and no other thread is starting (that one will look again). If so, the
 * thread is counted as starting; the caller starts it with start_claimed_thread, lock released:
 * pthread_create maps and touches a stack, which took long enough on a VM to stall every submit
 * waiting for the lock (the event loop's among them) when it ran under the lock. */
static bool claim_thread_locked(void) {
  if (queued <= idle_threads + starting_threads || starting_threads > 0) return false;
  if (blocking_threads >= MAX_BLOCKING_THREADS) return false;
  blocking_threads++;
  starting_threads++;
  return true;
}

/* Without the lock: starts the thread claim_thread_locked counted; 0, or -1 (the claim undone). */
static int start_claimed_thread(void) {
  pthread_attr_t attr;
  pthread_t thread;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, BLOCKING_STACK_SIZE);
  int created = pthread_create(&thread, &attr, blocking_main, NULL);
  pthread_attr_destroy(&attr);
  if (created == 0) return 0;
  pthread_mutex_lock(&blocking_lock);
  blocking_threads--;
  starting_threads--;
  pthread_mutex_unlock(&blocking_lock);
  return -1;
}

/* Hands a finished call back to its environment, unless that environment is being torn down. */
static void finish_blocking(struct call *c) {
  napi_threadsafe_function tsfn = c->tsfn;
  struct env_state *state = c->state;
  pthread_mutex_lock(&blocking_lock);
  bool closing = state->closing;
  if (!closing) state->in_call++;
  pthread_mutex_unlock(&blocking_lock);
  if (closing) {
    free_call(NULL, c); /* nobody will settle it: just free */
  } else {
    if (napi_call_threadsafe_function(tsfn, c, napi_tsfn_blocking) != napi_ok) free_call(NULL, c);
    napi_release_threadsafe_function(tsfn, napi_tsfn_release); /* c may be freed by now */
  }
  pthread_mutex_lock(&blocking_lock);
  if (!closing && --state->in_call == 0 && state->closing) pthread_cond_broadcast(&hand_back_done);
  bool last = --state->outstanding == 0 && state->finalized;
  pthread_mutex_unlock(&blocking_lock);
  if (last) free(state);
}

static void *blocking_main(void *unused) {
  (void)unused;
  /* SCHED_BATCH (allowed unprivileged): a woken batch thread never preempts the running one. The
   * event loop wakes a thread per call it hands over; as plain SCHED_OTHER threads, each took the
   * CPU at once for its whole syscall, so 64 creates issued in one tick kept timers waiting 10-20
   * ms (bench scenario 3). Fairness between threads is unchanged. A refusal (a seccomp policy,
   * say) only leaves the thread as it was. */
  struct sched_param batch = {0};
  (void)sched_setscheduler(0, SCHED_BATCH, &batch);
  pthread_mutex_lock(&blocking_lock);
  starting_threads--;
  for (;;) {
    if (claim_thread_locked()) {
      /* the next thread of a burst, started here rather than on the event loop */
      pthread_mutex_unlock(&blocking_lock);
      start_claimed_thread();
      pthread_mutex_lock(&blocking_lock);
    }
    while (queue_head == NULL) {
      struct timespec deadline;
      clock_gettime(CLOCK_REALTIME, &deadline);
      deadline.tv_sec += BLOCKING_IDLE_SECONDS;
      idle_threads++;
      int rc = pthread_cond_timedwait(&blocking_wake, &blocking_lock, &deadline);
      idle_threads--;
      if (rc == ETIMEDOUT && queue_head == NULL) {
        blocking_threads--;
        pthread_mutex_unlock(&blocking_lock);
        return NULL;
      }
    }
    struct call *c = queue_head;
    queue_head = c->next;
    if (queue_head == NULL) queue_tail = NULL;
    queued--;
    pthread_mutex_unlock(&blocking_lock);
    run_call(c);
    finish_blocking(c);
    pthread_mutex_lock(&blocking_lock);
  }
}

/* Queues a call for a blocking thread; 0 on success, or -1 when no thread could serve it. */
static int submit_blocking(struct call *c) {
  pthread_mutex_lock(&blocking_lock);
  c->next = NULL;
  if (queue_tail) queue_tail->next = c;
  else queue_head = c;
  queue_tail = c;
  queued++;
  bool start = false;
  if (queued <= idle_threads) pthread_cond_signal(&blocking_wake);
  else start = claim_thread_locked();
  /* else: a starting or busy thread will get to it (threads start one another while calls wait) */
  pthread_mutex_unlock(&blocking_lock);
  if (!start || start_claimed_thread() == 0) return 0;
  /* No thread could start. With none running at all, nobody will take the call: take it back so the
   * caller can use the libuv pool. (Calls queued before it were taken by a thread, or taken back.) */
  int rc = 0;
  pthread_mutex_lock(&blocking_lock);
  if (blocking_threads == 0) {
    struct call **link = &queue_head, *prev = NULL;
    while (*link != NULL && *link != c) {
      prev = *link;
      link = &(*link)->next;
    }
    if (*link == c) {
      *link = c->next;
      if (queue_tail == c) queue_tail = prev;
      queued--;
      rc = -1;
    }
  }
  pthread_mutex_unlock(&blocking_lock);
  return rc;
}

static napi_value call_async(napi_env env, napi_callback_info info, parse_fn parse, size_t blocking_index) {
  napi_value argv[6], promise, name;
  size_t argc = 6;
  bool blocking = false;
  struct call *c = calloc(1, sizeof *c);
  if (c == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || !parse(env, argv, argc, c, 1)) {
    free_call(env, c);
    return NULL;
  }
  if (argc > blocking_index) {
    napi_valuetype type;
    if (napi_typeof(env, argv[blocking_index], &type) == napi_ok && type == napi_boolean)
      napi_get_value_bool(env, argv[blocking_index], &blocking);
  }
  if (napi_create_promise(env, &c->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "btrfs", NAPI_AUTO_LENGTH, &name) != napi_ok) {
    free_call(env, c);
    return NULL;
  }
  if (!blocking) {
    if (napi_create_async_work(env, NULL, name, pool_execute, pool_complete, c, &c->work) != napi_ok ||
        napi_queue_async_work(env, c->work) != napi_ok) {
      if (c->work != NULL) napi_delete_async_work(env, c->work);
      free_call(env, c);
      napi_throw_error(env, NULL, "could not queue async work");
      return NULL;
    }
    return promise;
  }
  struct env_state *state = NULL;
  if (napi_get_instance_data(env, (void **)&state) != napi_ok || state == NULL ||
      napi_acquire_threadsafe_function(state->tsfn) != napi_ok) {
    free_call(env, c); /* the promise is never returned: the throw below reports the failure */
    napi_throw_error(env, NULL, "no threadsafe function for blocking calls");
    return NULL;
  }
  c->tsfn = state->tsfn;
  c->state = state;
  if (state->pending++ == 0) napi_ref_threadsafe_function(env, state->tsfn);
  pthread_mutex_lock(&blocking_lock);
  state->outstanding++;
  pthread_mutex_unlock(&blocking_lock);
  if (submit_blocking(c) != 0) {
    /* No thread to spare: run on the libuv pool rather than fail the call. */
    napi_release_threadsafe_function(c->tsfn, napi_tsfn_release);
    if (--state->pending == 0) napi_unref_threadsafe_function(env, state->tsfn);
    pthread_mutex_lock(&blocking_lock);
    state->outstanding--; /* the environment is alive (this is its thread): it frees the state */
    pthread_mutex_unlock(&blocking_lock);
    c->tsfn = NULL;
    c->state = NULL;
    if (napi_create_async_work(env, NULL, name, pool_execute, pool_complete, c, &c->work) != napi_ok ||
        napi_queue_async_work(env, c->work) != napi_ok) {
      napi_throw_error(env, NULL, "could not queue async work");
      return NULL;
    }
  }
  return promise;
}

/* ioctlAsync(fd, request, arg, patches, blocking) */
static napi_value ioctl_async(napi_env env, napi_callback_info info) { return call_async(env, info, parse_ioctl, 4); }
/* ioctlAtAsync(path, openFlags, request, arg, patches, blocking) */
static napi_value ioctl_at_async(napi_env env, napi_callback_info info) {
  return call_async(env, info, parse_ioctl_at, 5);
}
/* mountAsync(source, target, fstype, flags, data, blocking) */
static napi_value mount_async(napi_env env, napi_callback_info info) { return call_async(env, info, parse_mount_any, 5); }
/* statxAsync(dirfd, path, flags, mask, buf) (never blocking: a path lookup) */
static napi_value statx_async(napi_env env, napi_callback_info info) { return call_async(env, info, parse_statx, 5); }
/* umount2Async(target, flags, blocking) */
static napi_value umount2_async(napi_env env, napi_callback_info info) {
  return call_async(env, info, parse_umount2_any, 2);
}

NAPI_MODULE_INIT() {
  napi_property_descriptor properties[] = {
      {"ioctl", NULL, ioctl_sync, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ioctlAsync", NULL, ioctl_async, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ioctlAt", NULL, ioctl_at_sync, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ioctlAtAsync", NULL, ioctl_at_async, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mount", NULL, mount_sync, NULL, NULL, NULL, napi_enumerable, NULL},
      {"mountAsync", NULL, mount_async, NULL, NULL, NULL, napi_enumerable, NULL},
      {"umount2", NULL, umount2_sync, NULL, NULL, NULL, napi_enumerable, NULL},
      {"umount2Async", NULL, umount2_async, NULL, NULL, NULL, napi_enumerable, NULL},
      {"statx", NULL, statx_sync, NULL, NULL, NULL, napi_enumerable, NULL},
      {"statxAsync", NULL, statx_async, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof properties / sizeof properties[0], properties) != napi_ok)
    return NULL;
  /* This environment's way back from the blocking threads (see struct env_state). */
  struct env_state *state = calloc(1, sizeof *state);
  napi_value name;
  if (state == NULL || napi_create_string_utf8(env, "btrfs blocking calls", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_threadsafe_function(env, NULL, NULL, name, 0, 1, NULL, NULL, state, thread_complete, &state->tsfn) != napi_ok) {
    free(state);
    return NULL;
  }
  napi_unref_threadsafe_function(env, state->tsfn);
  if (napi_set_instance_data(env, state, free_env_state, NULL) != napi_ok) return NULL;
  /* Added after the threadsafe function, so it runs before the function's own cleanup. */
  if (napi_add_env_cleanup_hook(env, env_closing, state) != napi_ok) return NULL;
  return exports;
}
