/*
 * bench/limit.c: the raw limit for `npm run bench`. The same system calls the library makes, in a
 * tight C loop, with no library at all: what the kernel allows on this machine. Compiled by the
 * bench (gcc -O2 -pthread) into out/bench/limit; never shipped.
 *
 * Each command times only its own loop (CLOCK_MONOTONIC, process start excluded) and prints one
 * JSON line: {"ns": total nanoseconds, "n": operations, ...}. On failure it prints the errno on
 * stderr and exits 1.
 *
 *   call OP PATH N            N times: is (statfs + stat), id (open + INO_LOOKUP + close),
 *                             info (open + GET_SUBVOL_INFO + close), ro (open + SUBVOL_GETFLAGS +
 *                             close), info-fd / id-fd (the ioctl alone on a descriptor opened once)
 *   calls OP PATH N THREADS   the same split over THREADS threads (wall time)
 *   list PATH INFO            every subvolume below PATH, depth first, with full paths: a
 *                             TREE_SEARCH_V2 of ROOT_REF items per subvolume, INO_LOOKUP when the
 *                             child is not in the parent's root directory; INFO=1 adds one
 *                             TREE_SEARCH_V2 of the child's ROOT_ITEM
 *   qgroups PATH [N]          N times: the quota tree's info, limit and relation items
 *                             (open, TREE_SEARCH_V2 with 256 KiB pages, close), counting the qgroups
 *   batch OP DIR N SPREAD THREADS [SRC]
 *                             OP = create | snapshot | delete, on DIR/sI (SPREAD=0) or
 *                             DIR/d(I%SPREAD)/sI, each call opening the parent directory (and the
 *                             source) as the library does, THREADS threads taking the next I
 *   tree DIR A B              provisioning: A subvolumes DIR/pI, each holding B subvolumes pI/sJ
 *   mount IMG MNT N           N times: attach IMG to a free loop device with autoclear
 *                             (LOOP_CTL_GET_FREE + LOOP_CONFIGURE), mount, close, umount2
 *   mountdev DEV MNT N        N times: mount DEV on MNT, umount2
 *   loop IMG N                N times: attach IMG (no autoclear), close; open the device again,
 *                             LOOP_CLR_FD, close (an attach and a detach call, as the API has them);
 *                             each attach tries the device detached last before GET_FREE, as
 *                             attachLoopDevice does
 *   rusage CMD ARGS...        runs CMD (stdout to /dev/null), prints its wall time and peak RSS
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/btrfs.h>
#include <linux/btrfs_tree.h>
#include <linux/loop.h>
#include <linux/magic.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, const char *path) {
  fprintf(stderr, "limit: %s %s: %s\n", what, path, strerror(errno));
  exit(1);
}

/* A sink the compiler cannot see through, so loops are not optimised away. */
static volatile uint64_t sink;

/* ---- per-call ---- */

static int call_once(const char *op, const char *path, int fd) {
  if (strcmp(op, "is") == 0) {
    struct statfs sfs;
    struct stat st;
    if (statfs(path, &sfs) < 0) return -1;
    if (sfs.f_type != BTRFS_SUPER_MAGIC) return 0;
    if (stat(path, &st) < 0) return -1;
    sink += S_ISDIR(st.st_mode) && st.st_ino == 256;
    return 0;
  }
  int own = fd < 0;
  if (own && (fd = open(path, strcmp(op, "ro") == 0 ? O_RDONLY | O_DIRECTORY : O_RDONLY)) < 0) return -1;
  int rc;
  if (strncmp(op, "id", 2) == 0) {
    struct btrfs_ioctl_ino_lookup_args a;
    memset(&a, 0, sizeof a);
    a.objectid = BTRFS_FIRST_FREE_OBJECTID;
    rc = ioctl(fd, BTRFS_IOC_INO_LOOKUP, &a);
    sink += a.treeid;
  } else if (strncmp(op, "info", 4) == 0) {
    struct btrfs_ioctl_get_subvol_info_args a;
    memset(&a, 0, sizeof a);
    rc = ioctl(fd, BTRFS_IOC_GET_SUBVOL_INFO, &a);
    sink += a.generation;
  } else if (strcmp(op, "ro") == 0) {
    uint64_t flags = 0;
    rc = ioctl(fd, BTRFS_IOC_SUBVOL_GETFLAGS, &flags);
    sink += flags;
  } else {
    errno = EINVAL;
    rc = -1;
  }
  if (own) close(fd);
  return rc;
}

static int open_for(const char *op, const char *path) {
  if (strstr(op, "-fd") == NULL) return -1;
  int fd = open(path, O_RDONLY);
  if (fd < 0) die("open", path);
  return fd;
}

struct calls_job {
  const char *op, *path;
  long n;
};

static void *calls_thread(void *p) {
  struct calls_job *job = p;
  int fd = open_for(job->op, job->path);
  for (long i = 0; i < job->n; i++)
    if (call_once(job->op, job->path, fd) < 0) die(job->op, job->path);
  if (fd >= 0) close(fd);
  return NULL;
}

static int cmd_calls(const char *op, const char *path, long n, int threads) {
  pthread_t tids[256];
  struct calls_job jobs[256];
  if (threads < 1 || threads > 256) threads = 1;
  uint64_t t0 = now_ns();
  for (int t = 0; t < threads; t++) {
    jobs[t] = (struct calls_job){op, path, n / threads + (t < n % threads)};
    if (threads == 1) calls_thread(&jobs[t]);
    else pthread_create(&tids[t], NULL, calls_thread, &jobs[t]);
  }
  if (threads > 1)
    for (int t = 0; t < threads; t++) pthread_join(tids[t], NULL);
  printf("{\"ns\":%llu,\"n\":%ld,\"threads\":%d}\n", (unsigned long long)(now_ns() - t0), n, threads);
  return 0;
}

/* ---- listing ---- */

#define LIST_BUF (64 * 1024)

struct list_state {
  int fd, info;
  long count;
  uint64_t bytes;
};

static int search(int fd, struct btrfs_ioctl_search_args_v2 *args, uint64_t buf_size) {
  args->buf_size = buf_size;
  return ioctl(fd, BTRFS_IOC_TREE_SEARCH_V2, args);
}

static void list_info(struct list_state *s, uint64_t id) {
  /* btrfs_root_item is 439 bytes: one item with its header fits in 1 KiB. */
  union {
    struct btrfs_ioctl_search_args_v2 args;
    char raw[sizeof(struct btrfs_ioctl_search_args_v2) + 1024];
  } u;
  memset(&u.args.key, 0, sizeof u.args.key);
  u.args.key.tree_id = BTRFS_ROOT_TREE_OBJECTID;
  u.args.key.min_objectid = u.args.key.max_objectid = id;
  u.args.key.min_type = u.args.key.max_type = BTRFS_ROOT_ITEM_KEY;
  u.args.key.max_offset = UINT64_MAX;
  u.args.key.max_transid = UINT64_MAX;
  u.args.key.nr_items = 1;
  if (search(s->fd, &u.args, 1024) < 0) die("TREE_SEARCH_V2 root item", "");
  if (u.args.key.nr_items != 1) {
    fprintf(stderr, "limit: no ROOT_ITEM for %llu\n", (unsigned long long)id);
    exit(1);
  }
  struct btrfs_ioctl_search_header *sh = (void *)u.args.buf;
  struct btrfs_root_item *ri = (void *)(sh + 1);
  sink += ri->generation + ri->ctransid + ri->otime.sec;
}

static void list_walk(struct list_state *s, uint64_t id, const char *path) {
  struct btrfs_ioctl_search_args_v2 *args = malloc(sizeof *args + LIST_BUF);
  if (!args) die("malloc", "");
  uint64_t min_offset = 0;
  for (;;) {
    memset(&args->key, 0, sizeof args->key);
    args->key.tree_id = BTRFS_ROOT_TREE_OBJECTID;
    args->key.min_objectid = args->key.max_objectid = id;
    args->key.min_type = args->key.max_type = BTRFS_ROOT_REF_KEY;
    args->key.min_offset = min_offset;
    args->key.max_offset = UINT64_MAX;
    args->key.max_transid = UINT64_MAX;
    args->key.nr_items = UINT32_MAX;
    if (search(s->fd, args, LIST_BUF) < 0) die("TREE_SEARCH_V2 root refs", path);
    if (args->key.nr_items == 0) break;
    char *p = (char *)args->buf;
    for (uint32_t i = 0; i < args->key.nr_items; i++) {
      struct btrfs_ioctl_search_header *sh = (void *)p;
      p += sizeof *sh;
      if (sh->type == BTRFS_ROOT_REF_KEY && sh->objectid == id) {
        struct btrfs_root_ref *ref = (void *)p;
        const char *name = (const char *)(ref + 1);
        char dir[BTRFS_INO_LOOKUP_PATH_MAX] = "";
        if (ref->dirid != BTRFS_FIRST_FREE_OBJECTID) {
          struct btrfs_ioctl_ino_lookup_args a;
          memset(&a, 0, sizeof a);
          a.treeid = id;
          a.objectid = ref->dirid;
          if (ioctl(s->fd, BTRFS_IOC_INO_LOOKUP, &a) < 0) die("INO_LOOKUP", path);
          memcpy(dir, a.name, sizeof dir); /* ends with '/' */
        }
        size_t len = strlen(path) + strlen(dir) + ref->name_len + 2;
        char *full = malloc(len);
        if (!full) die("malloc", "");
        snprintf(full, len, "%s%s%s%.*s", path, *path ? "/" : "", dir, (int)ref->name_len, name);
        s->count++;
        s->bytes += strlen(full);
        if (s->info) list_info(s, sh->offset);
        list_walk(s, sh->offset, full);
        free(full);
      }
      p += sh->len;
      min_offset = sh->offset + 1;
    }
    if (min_offset == 0) break; /* wrapped past UINT64_MAX */
  }
  free(args);
}

static int cmd_list(const char *path, int info) {
  uint64_t t0 = now_ns();
  struct list_state s = {.info = info};
  if ((s.fd = open(path, O_RDONLY)) < 0) die("open", path);
  struct btrfs_ioctl_ino_lookup_args a;
  memset(&a, 0, sizeof a);
  a.objectid = BTRFS_FIRST_FREE_OBJECTID;
  if (ioctl(s.fd, BTRFS_IOC_INO_LOOKUP, &a) < 0) die("INO_LOOKUP", path);
  list_walk(&s, a.treeid, "");
  close(s.fd);
  printf("{\"ns\":%llu,\"n\":%ld,\"bytes\":%llu}\n", (unsigned long long)(now_ns() - t0), s.count, (unsigned long long)s.bytes);
  return 0;
}

/* ---- quota tree ---- */

#define QGROUP_BUF (256 * 1024)

static long qgroups_once(const char *path, long *items_out) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) die("open", path);
  struct btrfs_ioctl_search_args_v2 *args = malloc(sizeof *args + QGROUP_BUF);
  if (!args) die("malloc", "");
  long groups = 0, items = 0;
  uint64_t min_objectid = 0, min_offset = 0;
  uint32_t min_type = BTRFS_QGROUP_INFO_KEY;
  for (;;) {
    memset(&args->key, 0, sizeof args->key);
    args->key.tree_id = BTRFS_QUOTA_TREE_OBJECTID;
    args->key.min_objectid = min_objectid;
    args->key.min_type = min_type;
    args->key.min_offset = min_offset;
    args->key.max_objectid = UINT64_MAX;
    args->key.max_type = BTRFS_QGROUP_RELATION_KEY;
    args->key.max_offset = UINT64_MAX;
    args->key.max_transid = UINT64_MAX;
    args->key.nr_items = UINT32_MAX;
    if (search(fd, args, QGROUP_BUF) < 0) die("TREE_SEARCH_V2 quota tree", path);
    if (args->key.nr_items == 0) break;
    char *p = (char *)args->buf;
    struct btrfs_ioctl_search_header *sh = NULL;
    for (uint32_t i = 0; i < args->key.nr_items; i++) {
      sh = (void *)p;
      p += sizeof *sh;
      items++;
      if (sh->type == BTRFS_QGROUP_INFO_KEY) {
        struct btrfs_qgroup_info_item *qi = (void *)p;
        groups++;
        sink += qi->rfer + qi->excl;
      }
      p += sh->len;
    }
    /* next key after the last one */
    min_objectid = sh->objectid;
    min_type = sh->type;
    min_offset = sh->offset + 1;
    if (min_offset == 0) {
      if (++min_type > 255) {
        min_type = 0;
        if (++min_objectid == 0) break;
      }
    }
  }
  free(args);
  close(fd);
  *items_out = items;
  return groups;
}

static int cmd_qgroups(const char *path, long n) {
  long groups = 0, items = 0;
  uint64_t t0 = now_ns();
  for (long i = 0; i < n; i++) groups = qgroups_once(path, &items);
  printf("{\"ns\":%llu,\"n\":%ld,\"groups\":%ld,\"items\":%ld}\n", (unsigned long long)(now_ns() - t0), n, groups, items);
  return 0;
}

/* ---- a command's peak RSS ---- */

static int cmd_rusage(char **argv) {
  uint64_t t0 = now_ns();
  pid_t pid = fork();
  if (pid < 0) die("fork", argv[0]);
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    if (null >= 0) dup2(null, 1);
    execvp(argv[0], argv);
    _exit(127);
  }
  int status;
  struct rusage ru;
  if (wait4(pid, &status, 0, &ru) < 0) die("wait4", argv[0]);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "limit: %s failed (status %d)\n", argv[0], status);
    return 1;
  }
  printf("{\"ns\":%llu,\"n\":1,\"maxrssKiB\":%ld}\n", (unsigned long long)(now_ns() - t0), ru.ru_maxrss);
  return 0;
}

/* ---- create / snapshot / delete ---- */

struct batch {
  const char *op, *dir, *src;
  long n;
  int spread;
  atomic_long next;
};

static void batch_one(struct batch *b, long i) {
  char parent[4096], name[64];
  if (b->spread > 0) snprintf(parent, sizeof parent, "%s/d%ld", b->dir, i % b->spread);
  else snprintf(parent, sizeof parent, "%s", b->dir);
  snprintf(name, sizeof name, "s%ld", i);
  int dfd = open(parent, O_RDONLY | O_DIRECTORY);
  if (dfd < 0) die("open", parent);
  struct btrfs_ioctl_vol_args_v2 a;
  memset(&a, 0, sizeof a);
  strncpy(a.name, name, sizeof a.name - 1);
  int rc, sfd = -1;
  if (strcmp(b->op, "create") == 0) {
    rc = ioctl(dfd, BTRFS_IOC_SUBVOL_CREATE_V2, &a);
  } else if (strcmp(b->op, "snapshot") == 0) {
    if ((sfd = open(b->src, O_RDONLY)) < 0) die("open", b->src);
    a.fd = sfd;
    rc = ioctl(dfd, BTRFS_IOC_SNAP_CREATE_V2, &a);
  } else if (strcmp(b->op, "delete") == 0) {
    rc = ioctl(dfd, BTRFS_IOC_SNAP_DESTROY_V2, &a);
  } else {
    errno = EINVAL;
    rc = -1;
  }
  if (rc < 0) die(b->op, name);
  if (sfd >= 0) close(sfd);
  close(dfd);
}

static void *batch_thread(void *p) {
  struct batch *b = p;
  for (long i; (i = atomic_fetch_add(&b->next, 1)) < b->n;) batch_one(b, i);
  return NULL;
}

static int cmd_batch(const char *op, const char *dir, long n, int spread, int threads, const char *src) {
  struct batch b = {.op = op, .dir = dir, .src = src, .n = n, .spread = spread};
  atomic_init(&b.next, 0);
  pthread_t tids[256];
  if (threads < 1 || threads > 256) threads = 1;
  uint64_t t0 = now_ns();
  if (threads == 1) batch_thread(&b);
  else {
    for (int t = 0; t < threads; t++) pthread_create(&tids[t], NULL, batch_thread, &b);
    for (int t = 0; t < threads; t++) pthread_join(tids[t], NULL);
  }
  printf("{\"ns\":%llu,\"n\":%ld,\"threads\":%d}\n", (unsigned long long)(now_ns() - t0), n, threads);
  return 0;
}

static void create_in(const char *parent, const char *name) {
  int dfd = open(parent, O_RDONLY | O_DIRECTORY);
  if (dfd < 0) die("open", parent);
  struct btrfs_ioctl_vol_args_v2 a;
  memset(&a, 0, sizeof a);
  strncpy(a.name, name, sizeof a.name - 1);
  if (ioctl(dfd, BTRFS_IOC_SUBVOL_CREATE_V2, &a) < 0) die("create", name);
  close(dfd);
}

static int cmd_tree(const char *dir, long outer, long inner) {
  uint64_t t0 = now_ns();
  char parent[4096], name[64];
  for (long i = 0; i < outer; i++) {
    snprintf(name, sizeof name, "p%ld", i);
    create_in(dir, name);
    snprintf(parent, sizeof parent, "%s/p%ld", dir, i);
    for (long j = 0; j < inner; j++) {
      snprintf(name, sizeof name, "s%ld", j);
      create_in(parent, name);
    }
  }
  printf("{\"ns\":%llu,\"n\":%ld}\n", (unsigned long long)(now_ns() - t0), outer * (inner + 1));
  return 0;
}

/* ---- loop devices and mount ---- */

/*
 * Attaches img to a free loop device; returns the open device, its path in dev and its number in
 * *nr. With *nr >= 0 (the device detached last, as attachLoopDevice remembers it), that device is
 * tried first and LOOP_CTL_GET_FREE asked only if it is taken.
 */
static int loop_attach(const char *img, int autoclear, char *dev, size_t devlen, int *nr) {
  int ffd = open(img, O_RDWR | O_CLOEXEC);
  if (ffd < 0) die("open", img);
  for (int attempt = 0; attempt < 16; attempt++) {
    if (*nr < 0 || attempt > 0) {
      int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
      if (ctl < 0) die("open", "/dev/loop-control");
      *nr = ioctl(ctl, LOOP_CTL_GET_FREE);
      close(ctl);
      if (*nr < 0) die("LOOP_CTL_GET_FREE", "");
    }
    snprintf(dev, devlen, "/dev/loop%d", *nr);
    int lfd = open(dev, O_RDWR | O_CLOEXEC);
    if (lfd < 0) {
      if (errno == ENOENT) continue;
      die("open", dev);
    }
    struct loop_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.fd = ffd;
    cfg.info.lo_flags = autoclear ? LO_FLAGS_AUTOCLEAR : 0;
    strncpy((char *)cfg.info.lo_file_name, img, LO_NAME_SIZE - 1);
    if (ioctl(lfd, LOOP_CONFIGURE, &cfg) == 0) {
      close(ffd);
      return lfd;
    }
    int e = errno;
    close(lfd);
    if (e != EBUSY) {
      errno = e;
      die("LOOP_CONFIGURE", dev);
    }
  }
  die("LOOP_CONFIGURE (busy)", img);
  return -1;
}

static int cmd_mount(const char *img, const char *mnt, long n) {
  uint64_t t0 = now_ns();
  char dev[64];
  for (long i = 0; i < n; i++) {
    int nr = -1; /* an autoclear device is released by the unmount, not detached: no guess */
    int lfd = loop_attach(img, 1, dev, sizeof dev, &nr);
    if (mount(dev, mnt, "btrfs", 0, NULL) < 0) die("mount", dev);
    close(lfd);
    if (umount2(mnt, 0) < 0) die("umount2", mnt);
  }
  printf("{\"ns\":%llu,\"n\":%ld}\n", (unsigned long long)(now_ns() - t0), n);
  return 0;
}

static int cmd_mountdev(const char *dev, const char *mnt, long n) {
  uint64_t t0 = now_ns();
  for (long i = 0; i < n; i++) {
    if (mount(dev, mnt, "btrfs", 0, NULL) < 0) die("mount", dev);
    if (umount2(mnt, 0) < 0) die("umount2", mnt);
  }
  printf("{\"ns\":%llu,\"n\":%ld}\n", (unsigned long long)(now_ns() - t0), n);
  return 0;
}

static int cmd_loop(const char *img, long n) {
  uint64_t t0 = now_ns();
  char dev[64];
  int nr = -1;
  for (long i = 0; i < n; i++) {
    /* As attachLoopDevice + detach: the device is closed after binding and opened again to clear;
     * the next attach tries the device just detached first. */
    close(loop_attach(img, 0, dev, sizeof dev, &nr));
    int lfd = open(dev, O_RDONLY | O_CLOEXEC);
    if (lfd < 0) die("open", dev);
    if (ioctl(lfd, LOOP_CLR_FD) < 0) die("LOOP_CLR_FD", dev);
    close(lfd);
  }
  printf("{\"ns\":%llu,\"n\":%ld}\n", (unsigned long long)(now_ns() - t0), n);
  return 0;
}

int main(int argc, char **argv) {
  const char *cmd = argc > 1 ? argv[1] : "";
  if (strcmp(cmd, "call") == 0 && argc == 5) return cmd_calls(argv[2], argv[3], atol(argv[4]), 1);
  if (strcmp(cmd, "calls") == 0 && argc == 6) return cmd_calls(argv[2], argv[3], atol(argv[4]), atoi(argv[5]));
  if (strcmp(cmd, "list") == 0 && argc == 4) return cmd_list(argv[2], atoi(argv[3]));
  if (strcmp(cmd, "qgroups") == 0 && (argc == 3 || argc == 4)) return cmd_qgroups(argv[2], argc == 4 ? atol(argv[3]) : 1);
  if (strcmp(cmd, "rusage") == 0 && argc >= 3) return cmd_rusage(argv + 2);
  if (strcmp(cmd, "batch") == 0 && (argc == 7 || argc == 8))
    return cmd_batch(argv[2], argv[3], atol(argv[4]), atoi(argv[5]), atoi(argv[6]), argc == 8 ? argv[7] : "");
  if (strcmp(cmd, "tree") == 0 && argc == 5) return cmd_tree(argv[2], atol(argv[3]), atol(argv[4]));
  if (strcmp(cmd, "mount") == 0 && argc == 5) return cmd_mount(argv[2], argv[3], atol(argv[4]));
  if (strcmp(cmd, "mountdev") == 0 && argc == 5) return cmd_mountdev(argv[2], argv[3], atol(argv[4]));
  if (strcmp(cmd, "loop") == 0 && argc == 4) return cmd_loop(argv[2], atol(argv[3]));
  fprintf(stderr, "usage: see the comment at the top of bench/limit.c\n");
  return 2;
}
