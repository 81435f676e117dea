/*
 * ABI oracle for the TypeScript codecs in src/kernel/. Compiled and run by test/abi/abi.test.ts
 * against the system's UAPI headers; nothing here is hand-typed but names, so every number comes
 * from the compiler (sizeof, offsetof, the ioctl macros). Output, one fact per line:
 *
 *   <struct> sizeof <bytes>
 *   <struct>.<field> <offset> <size>
 *   <NAME> <value>                      ioctl numbers and constants, as unsigned decimal
 *
 * The lists are X-macros so that adding a line is all a new codec needs. Field names are the TS
 * layout's keys; FIELD_AS maps a TS key to a C member designator where the TS layout flattens a
 * nested struct (btrfs_dir_item's location key). The anonymous unions of btrfs_ioctl_vol_args_v2
 * need no mapping: size/qgroup_inherit and name/devid/subvolid are members of the struct itself.
 * Members the TS side deliberately does not decode (a nested inode item, result buffers) are
 * listed too; the test checks that no TS field overlaps them.
 */
#define _GNU_SOURCE /* AT_EMPTY_PATH */
#include <stddef.h>
#include <stdio.h>
#include <linux/btrfs.h>
#include <linux/btrfs_tree.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <linux/magic.h>
#include <linux/stat.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/mount.h>

#define STRUCTS(X)                            \
  X(btrfs_ioctl_vol_args)                     \
  X(btrfs_ioctl_vol_args_v2)                  \
  X(btrfs_qgroup_limit)                       \
  X(btrfs_qgroup_inherit)                     \
  X(btrfs_ioctl_get_subvol_info_args)         \
  X(btrfs_ioctl_get_subvol_rootref_args)      \
  X(btrfs_ioctl_ino_lookup_args)              \
  X(btrfs_ioctl_ino_lookup_user_args)         \
  X(btrfs_ioctl_search_key)                   \
  X(btrfs_ioctl_search_header)                \
  X(btrfs_ioctl_search_args)                  \
  X(btrfs_ioctl_search_args_v2)               \
  X(btrfs_disk_key)                           \
  X(btrfs_root_item)                          \
  X(btrfs_root_ref)                           \
  X(btrfs_dir_item)                           \
  X(btrfs_ioctl_quota_ctl_args)               \
  X(btrfs_ioctl_quota_rescan_args)            \
  X(btrfs_ioctl_qgroup_create_args)           \
  X(btrfs_ioctl_qgroup_assign_args)           \
  X(btrfs_ioctl_qgroup_limit_args)            \
  X(btrfs_qgroup_status_item)                 \
  X(btrfs_qgroup_info_item)                   \
  X(btrfs_qgroup_limit_item)                  \
  X(loop_info64)                              \
  X(loop_config)                              \
  X(statx)

/* X(struct, field): TS key == C member. Y(struct, ts_key, c_member): flattened. */
#define FIELDS(X, Y)                                               \
  X(btrfs_ioctl_vol_args, fd)                                      \
  X(btrfs_ioctl_vol_args, name)                                    \
  X(btrfs_ioctl_vol_args_v2, fd)                                   \
  X(btrfs_ioctl_vol_args_v2, transid)                              \
  X(btrfs_ioctl_vol_args_v2, flags)                                \
  X(btrfs_ioctl_vol_args_v2, size)                                 \
  X(btrfs_ioctl_vol_args_v2, qgroup_inherit)                       \
  X(btrfs_ioctl_vol_args_v2, name)                                 \
  X(btrfs_ioctl_vol_args_v2, devid)                                \
  X(btrfs_ioctl_vol_args_v2, subvolid)                             \
  X(btrfs_qgroup_limit, flags)                                     \
  X(btrfs_qgroup_limit, max_rfer)                                  \
  X(btrfs_qgroup_limit, max_excl)                                  \
  X(btrfs_qgroup_limit, rsv_rfer)                                  \
  X(btrfs_qgroup_limit, rsv_excl)                                  \
  X(btrfs_qgroup_inherit, flags)                                   \
  X(btrfs_qgroup_inherit, num_qgroups)                             \
  X(btrfs_qgroup_inherit, num_ref_copies)                          \
  X(btrfs_qgroup_inherit, num_excl_copies)                         \
  X(btrfs_qgroup_inherit, lim)                                     \
  X(btrfs_ioctl_get_subvol_info_args, treeid)                      \
  X(btrfs_ioctl_get_subvol_info_args, name)                        \
  X(btrfs_ioctl_get_subvol_info_args, parent_id)                   \
  X(btrfs_ioctl_get_subvol_info_args, dirid)                       \
  X(btrfs_ioctl_get_subvol_info_args, generation)                  \
  X(btrfs_ioctl_get_subvol_info_args, flags)                       \
  X(btrfs_ioctl_get_subvol_info_args, uuid)                        \
  X(btrfs_ioctl_get_subvol_info_args, parent_uuid)                 \
  X(btrfs_ioctl_get_subvol_info_args, received_uuid)               \
  X(btrfs_ioctl_get_subvol_info_args, ctransid)                    \
  X(btrfs_ioctl_get_subvol_info_args, otransid)                    \
  X(btrfs_ioctl_get_subvol_info_args, stransid)                    \
  X(btrfs_ioctl_get_subvol_info_args, rtransid)                    \
  X(btrfs_ioctl_get_subvol_info_args, ctime)                       \
  X(btrfs_ioctl_get_subvol_info_args, otime)                       \
  X(btrfs_ioctl_get_subvol_info_args, stime)                       \
  X(btrfs_ioctl_get_subvol_info_args, rtime)                       \
  X(btrfs_ioctl_get_subvol_info_args, reserved)                    \
  X(btrfs_ioctl_get_subvol_rootref_args, min_treeid)               \
  X(btrfs_ioctl_get_subvol_rootref_args, rootref)                  \
  X(btrfs_ioctl_get_subvol_rootref_args, num_items)                \
  X(btrfs_ioctl_ino_lookup_args, treeid)                           \
  X(btrfs_ioctl_ino_lookup_args, objectid)                         \
  X(btrfs_ioctl_ino_lookup_args, name)                             \
  X(btrfs_ioctl_ino_lookup_user_args, dirid)                       \
  X(btrfs_ioctl_ino_lookup_user_args, treeid)                      \
  X(btrfs_ioctl_ino_lookup_user_args, name)                        \
  X(btrfs_ioctl_ino_lookup_user_args, path)                        \
  X(btrfs_ioctl_search_key, tree_id)                               \
  X(btrfs_ioctl_search_key, min_objectid)                          \
  X(btrfs_ioctl_search_key, max_objectid)                          \
  X(btrfs_ioctl_search_key, min_offset)                            \
  X(btrfs_ioctl_search_key, max_offset)                            \
  X(btrfs_ioctl_search_key, min_transid)                           \
  X(btrfs_ioctl_search_key, max_transid)                           \
  X(btrfs_ioctl_search_key, min_type)                              \
  X(btrfs_ioctl_search_key, max_type)                              \
  X(btrfs_ioctl_search_key, nr_items)                              \
  X(btrfs_ioctl_search_header, transid)                            \
  X(btrfs_ioctl_search_header, objectid)                           \
  X(btrfs_ioctl_search_header, offset)                             \
  X(btrfs_ioctl_search_header, type)                               \
  X(btrfs_ioctl_search_header, len)                                \
  X(btrfs_ioctl_search_args, key)                                  \
  X(btrfs_ioctl_search_args, buf)                                  \
  X(btrfs_ioctl_search_args_v2, key)                               \
  X(btrfs_ioctl_search_args_v2, buf_size)                          \
  X(btrfs_disk_key, objectid)                                      \
  X(btrfs_disk_key, type)                                          \
  X(btrfs_disk_key, offset)                                        \
  X(btrfs_root_item, inode)                                        \
  X(btrfs_root_item, generation)                                   \
  X(btrfs_root_item, root_dirid)                                   \
  X(btrfs_root_item, bytenr)                                       \
  X(btrfs_root_item, byte_limit)                                   \
  X(btrfs_root_item, bytes_used)                                   \
  X(btrfs_root_item, last_snapshot)                                \
  X(btrfs_root_item, flags)                                        \
  X(btrfs_root_item, refs)                                         \
  X(btrfs_root_item, drop_progress)                                \
  X(btrfs_root_item, drop_level)                                   \
  X(btrfs_root_item, level)                                        \
  X(btrfs_root_item, generation_v2)                                \
  X(btrfs_root_item, uuid)                                         \
  X(btrfs_root_item, parent_uuid)                                  \
  X(btrfs_root_item, received_uuid)                                \
  X(btrfs_root_item, ctransid)                                     \
  X(btrfs_root_item, otransid)                                     \
  X(btrfs_root_item, stransid)                                     \
  X(btrfs_root_item, rtransid)                                     \
  X(btrfs_root_item, ctime)                                        \
  X(btrfs_root_item, otime)                                        \
  X(btrfs_root_item, stime)                                        \
  X(btrfs_root_item, rtime)                                        \
  X(btrfs_root_item, reserved)                                     \
  X(btrfs_root_ref, dirid)                                         \
  X(btrfs_root_ref, sequence)                                      \
  X(btrfs_root_ref, name_len)                                      \
  Y(btrfs_dir_item, location_objectid, location.objectid)          \
  Y(btrfs_dir_item, location_type, location.type)                  \
  Y(btrfs_dir_item, location_offset, location.offset)              \
  X(btrfs_dir_item, transid)                                       \
  X(btrfs_dir_item, data_len)                                      \
  X(btrfs_dir_item, name_len)                                      \
  X(btrfs_dir_item, type)                                          \
  X(btrfs_ioctl_quota_ctl_args, cmd)                               \
  X(btrfs_ioctl_quota_ctl_args, status)                            \
  X(btrfs_ioctl_quota_rescan_args, flags)                          \
  X(btrfs_ioctl_quota_rescan_args, progress)                       \
  X(btrfs_ioctl_quota_rescan_args, reserved)                       \
  X(btrfs_ioctl_qgroup_create_args, create)                        \
  X(btrfs_ioctl_qgroup_create_args, qgroupid)                      \
  X(btrfs_ioctl_qgroup_assign_args, assign)                        \
  X(btrfs_ioctl_qgroup_assign_args, src)                           \
  X(btrfs_ioctl_qgroup_assign_args, dst)                           \
  X(btrfs_ioctl_qgroup_limit_args, qgroupid)                       \
  X(btrfs_ioctl_qgroup_limit_args, lim)                            \
  X(btrfs_qgroup_status_item, version)                             \
  X(btrfs_qgroup_status_item, generation)                          \
  X(btrfs_qgroup_status_item, flags)                               \
  X(btrfs_qgroup_status_item, rescan)                              \
  X(btrfs_qgroup_info_item, generation)                            \
  X(btrfs_qgroup_info_item, rfer)                                  \
  X(btrfs_qgroup_info_item, rfer_cmpr)                             \
  X(btrfs_qgroup_info_item, excl)                                  \
  X(btrfs_qgroup_info_item, excl_cmpr)                             \
  X(btrfs_qgroup_limit_item, flags)                                \
  X(btrfs_qgroup_limit_item, max_rfer)                             \
  X(btrfs_qgroup_limit_item, max_excl)                             \
  X(btrfs_qgroup_limit_item, rsv_rfer)                             \
  X(btrfs_qgroup_limit_item, rsv_excl)                             \
  X(loop_info64, lo_device)                                        \
  X(loop_info64, lo_inode)                                         \
  X(loop_info64, lo_rdevice)                                       \
  X(loop_info64, lo_offset)                                        \
  X(loop_info64, lo_sizelimit)                                     \
  X(loop_info64, lo_number)                                        \
  X(loop_info64, lo_encrypt_type)                                  \
  X(loop_info64, lo_encrypt_key_size)                              \
  X(loop_info64, lo_flags)                                         \
  X(loop_info64, lo_file_name)                                     \
  X(loop_info64, lo_crypt_name)                                    \
  X(loop_info64, lo_encrypt_key)                                   \
  X(loop_info64, lo_init)                                          \
  X(loop_config, fd)                                               \
  X(loop_config, block_size)                                       \
  X(loop_config, info)                                             \
  X(statx, stx_mask)                                               \
  X(statx, stx_mode)                                               \
  X(statx, stx_ino)                                                \
  X(statx, stx_mnt_id)

/* Named values: V(NAME) prints a header macro; D(NAME, expr) a value the TS side derives. */
#define VALUES(V, D)                                                                                  \
  /* asm-generic/ioctl.h, mirrored by src/kernel/ioc.ts */                                           \
  D(IOC_NONE, _IOC_NONE)                                                                              \
  D(IOC_WRITE, _IOC_WRITE)                                                                            \
  D(IOC_READ, _IOC_READ)                                                                              \
  /* ioctl numbers */                                                                                 \
  V(BTRFS_IOC_SNAP_CREATE)                                                                            \
  V(BTRFS_IOC_SYNC)                                                                                   \
  V(BTRFS_IOC_SUBVOL_CREATE)                                                                          \
  V(BTRFS_IOC_SNAP_DESTROY)                                                                           \
  V(BTRFS_IOC_INO_LOOKUP)                                                                             \
  V(BTRFS_IOC_DEFAULT_SUBVOL)                                                                         \
  V(BTRFS_IOC_WAIT_SYNC)                                                                              \
  V(BTRFS_IOC_SNAP_CREATE_V2)                                                                         \
  V(BTRFS_IOC_START_SYNC)                                                                             \
  V(BTRFS_IOC_SUBVOL_CREATE_V2)                                                                       \
  V(BTRFS_IOC_SUBVOL_GETFLAGS)                                                                        \
  V(BTRFS_IOC_SUBVOL_SETFLAGS)                                                                        \
  V(BTRFS_IOC_GET_SUBVOL_INFO)                                                                        \
  V(BTRFS_IOC_GET_SUBVOL_ROOTREF)                                                                     \
  V(BTRFS_IOC_INO_LOOKUP_USER)                                                                        \
  V(BTRFS_IOC_SNAP_DESTROY_V2)                                                                        \
  V(BTRFS_IOC_TREE_SEARCH)                                                                            \
  V(BTRFS_IOC_TREE_SEARCH_V2)                                                                         \
  V(BTRFS_IOC_QUOTA_CTL)                                                                              \
  V(BTRFS_IOC_QGROUP_ASSIGN)                                                                          \
  V(BTRFS_IOC_QGROUP_CREATE)                                                                          \
  V(BTRFS_IOC_QGROUP_LIMIT)                                                                           \
  V(BTRFS_IOC_QUOTA_RESCAN)                                                                           \
  V(BTRFS_IOC_QUOTA_RESCAN_STATUS)                                                                    \
  V(BTRFS_IOC_QUOTA_RESCAN_WAIT)                                                                      \
  /* loop devices, btrfs-control, mount(2) */                                                         \
  V(BTRFS_IOC_SCAN_DEV)                                                                               \
  V(BTRFS_IOC_FORGET_DEV)                                                                             \
  V(BTRFS_IOC_DEVICES_READY)                                                                          \
  V(LOOP_SET_FD)                                                                                      \
  V(LOOP_CLR_FD)                                                                                      \
  V(LOOP_SET_STATUS64)                                                                                \
  V(LOOP_GET_STATUS64)                                                                                \
  V(LOOP_SET_DIRECT_IO)                                                                               \
  V(LOOP_CONFIGURE)                                                                                   \
  V(LOOP_CTL_ADD)                                                                                     \
  V(LOOP_CTL_REMOVE)                                                                                  \
  V(LOOP_CTL_GET_FREE)                                                                                \
  V(LO_FLAGS_READ_ONLY)                                                                               \
  V(LO_FLAGS_AUTOCLEAR)                                                                               \
  V(LO_FLAGS_PARTSCAN)                                                                                \
  V(LO_FLAGS_DIRECT_IO)                                                                               \
  V(LO_NAME_SIZE)                                                                                     \
  V(MS_RDONLY)                                                                                        \
  V(MS_NOSUID)                                                                                        \
  V(MS_NODEV)                                                                                         \
  V(MS_NOEXEC)                                                                                        \
  V(MS_SYNCHRONOUS)                                                                                   \
  V(MS_REMOUNT)                                                                                       \
  V(MS_MANDLOCK)                                                                                      \
  V(MS_DIRSYNC)                                                                                       \
  V(MS_NOSYMFOLLOW)                                                                                   \
  V(MS_NOATIME)                                                                                       \
  V(MS_NODIRATIME)                                                                                    \
  V(MS_BIND)                                                                                          \
  V(MS_MOVE)                                                                                          \
  V(MS_REC)                                                                                           \
  V(MS_SILENT)                                                                                        \
  V(MS_UNBINDABLE)                                                                                    \
  V(MS_PRIVATE)                                                                                       \
  V(MS_SLAVE)                                                                                         \
  V(MS_SHARED)                                                                                        \
  V(MS_RELATIME)                                                                                      \
  V(MS_STRICTATIME)                                                                                   \
  V(MS_LAZYTIME)                                                                                      \
  V(MNT_FORCE)                                                                                        \
  V(MNT_DETACH)                                                                                       \
  V(MNT_EXPIRE)                                                                                       \
  V(UMOUNT_NOFOLLOW)                                                                                  \
  /* statx(2) */                                                                                      \
  V(STATX_TYPE)                                                                                       \
  V(STATX_MODE)                                                                                       \
  V(STATX_INO)                                                                                        \
  V(AT_EMPTY_PATH)                                                                                    \
  V(S_IFMT)                                                                                           \
  V(S_IFDIR)                                                                                          \
  /* constants */                                                                                     \
  V(BTRFS_IOCTL_MAGIC)                                                                                \
  V(BTRFS_SUPER_MAGIC)                                                                                \
  V(BTRFS_PATH_NAME_MAX)                                                                              \
  V(BTRFS_SUBVOL_NAME_MAX)                                                                            \
  V(BTRFS_VOL_NAME_MAX)                                                                               \
  V(BTRFS_INO_LOOKUP_PATH_MAX)                                                                        \
  V(BTRFS_INO_LOOKUP_USER_PATH_MAX)                                                                   \
  V(BTRFS_MAX_ROOTREF_BUFFER_NUM)                                                                     \
  V(BTRFS_SEARCH_ARGS_BUFSIZE)                                                                        \
  V(BTRFS_SUBVOL_CREATE_ASYNC)                                                                        \
  V(BTRFS_SUBVOL_RDONLY)                                                                              \
  V(BTRFS_SUBVOL_QGROUP_INHERIT)                                                                      \
  V(BTRFS_DEVICE_SPEC_BY_ID)                                                                          \
  V(BTRFS_SUBVOL_SPEC_BY_ID)                                                                          \
  V(BTRFS_ROOT_SUBVOL_RDONLY)                                                                         \
  V(BTRFS_ROOT_TREE_OBJECTID)                                                                         \
  V(BTRFS_FS_TREE_OBJECTID)                                                                           \
  V(BTRFS_ROOT_TREE_DIR_OBJECTID)                                                                     \
  V(BTRFS_QUOTA_TREE_OBJECTID)                                                                        \
  V(BTRFS_UUID_TREE_OBJECTID)                                                                         \
  V(BTRFS_FIRST_FREE_OBJECTID)                                                                        \
  V(BTRFS_LAST_FREE_OBJECTID)                                                                         \
  V(BTRFS_ORPHAN_OBJECTID)                                                                            \
  V(BTRFS_INODE_ITEM_KEY)                                                                             \
  V(BTRFS_INODE_REF_KEY)                                                                              \
  V(BTRFS_ORPHAN_ITEM_KEY)                                                                            \
  V(BTRFS_DIR_ITEM_KEY)                                                                               \
  V(BTRFS_DIR_INDEX_KEY)                                                                              \
  V(BTRFS_ROOT_ITEM_KEY)                                                                              \
  V(BTRFS_ROOT_BACKREF_KEY)                                                                           \
  V(BTRFS_ROOT_REF_KEY)                                                                               \
  V(BTRFS_QGROUP_STATUS_KEY)                                                                          \
  V(BTRFS_QGROUP_INFO_KEY)                                                                            \
  V(BTRFS_QGROUP_LIMIT_KEY)                                                                           \
  V(BTRFS_QGROUP_RELATION_KEY)                                                                        \
  V(BTRFS_QGROUP_LEVEL_SHIFT)                                                                         \
  V(BTRFS_QUOTA_CTL_ENABLE)                                                                           \
  V(BTRFS_QUOTA_CTL_DISABLE)                                                                          \
  V(BTRFS_QUOTA_CTL_RESCAN__NOTUSED)                                                                  \
  V(BTRFS_QGROUP_STATUS_FLAG_ON)                                                                      \
  V(BTRFS_QGROUP_STATUS_FLAG_RESCAN)                                                                  \
  V(BTRFS_QGROUP_STATUS_FLAG_INCONSISTENT)                                                            \
  V(BTRFS_QGROUP_STATUS_VERSION)                                                                      \
  V(BTRFS_QGROUP_LIMIT_MAX_RFER)                                                                      \
  V(BTRFS_QGROUP_LIMIT_MAX_EXCL)                                                                      \
  V(BTRFS_QGROUP_LIMIT_RSV_RFER)                                                                      \
  V(BTRFS_QGROUP_LIMIT_RSV_EXCL)                                                                      \
  V(BTRFS_QGROUP_LIMIT_RFER_CMPR)                                                                     \
  V(BTRFS_QGROUP_LIMIT_EXCL_CMPR)                                                                     \
  /* values src/kernel derives from layouts it does not spell out field by field */                  \
  D(ROOTREF_OFFSET, offsetof(struct btrfs_ioctl_get_subvol_rootref_args, rootref))                    \
  D(ROOTREF_SIZE, sizeof(((struct btrfs_ioctl_get_subvol_rootref_args *)0)->rootref[0]))              \
  D(SEARCH_ARGS_BUF_OFFSET, offsetof(struct btrfs_ioctl_search_args, buf))                            \
  D(SEARCH_ARGS_V2_BUF_OFFSET, offsetof(struct btrfs_ioctl_search_args_v2, buf))                      \
  D(U64_MAX, (__u64)-1)

/* Flexible array members: offset only (no sizeof), printed with size 0, "caller-sized". */
#define FLEXIBLE(X)                   \
  X(btrfs_qgroup_inherit, qgroups)    \
  X(btrfs_ioctl_search_args_v2, buf)

#define PRINT_SIZE(s) printf(#s " sizeof %zu\n", sizeof(struct s));
#define PRINT_FIELD_AS(s, key, m) \
  printf(#s "." #key " %zu %zu\n", offsetof(struct s, m), sizeof(((struct s *)0)->m));
#define PRINT_FIELD(s, f) PRINT_FIELD_AS(s, f, f)
#define PRINT_FLEXIBLE(s, f) printf(#s "." #f " %zu 0\n", offsetof(struct s, f));
#define PRINT_VALUE(name) printf(#name " %llu\n", (unsigned long long)(name));
#define PRINT_DERIVED(name, expr) printf(#name " %llu\n", (unsigned long long)(expr));

int main(void) {
  STRUCTS(PRINT_SIZE)
  FIELDS(PRINT_FIELD, PRINT_FIELD_AS)
  FLEXIBLE(PRINT_FLEXIBLE)
  VALUES(PRINT_VALUE, PRINT_DERIVED)
  return ferror(stdout) ? 1 : 0;
}
