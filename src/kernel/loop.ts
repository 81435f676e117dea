/**
 * Loop devices (linux/loop.h): the control device's ioctls, the per-device ioctls, and the
 * loop_info64 / loop_config structs. Every loop ioctl carries size 0 in its number, yet most take a
 * pointer; LOOP_SET_FD takes the backing descriptor as the integer argument.
 * @module
 */
import { _IO } from './ioc';
import { bytes, cstr, layout, struct, u32, u64 } from './struct';

const L = 0x4c; // 'L'

/** linux/loop.h: struct loop_info64 */
export const loop_info64 = layout('loop_info64', 232, {
  lo_device: u64(0),
  lo_inode: u64(8),
  lo_rdevice: u64(16),
  lo_offset: u64(24),
  lo_sizelimit: u64(32),
  lo_number: u32(40),
  lo_encrypt_type: u32(44),
  lo_encrypt_key_size: u32(48),
  lo_flags: u32(52),
  lo_file_name: cstr(56, 64),
  lo_crypt_name: bytes(120, 64),
  lo_encrypt_key: bytes(184, 32),
  lo_init: bytes(216, 16),
});

/** linux/loop.h: struct loop_config */
export const loop_config = layout('loop_config', 304, {
  fd: u32(0),
  block_size: u32(4),
  info: struct(8, loop_info64),
});

/** linux/loop.h: lo_flags bits. */
export const LO_FLAGS_READ_ONLY = 1;
export const LO_FLAGS_AUTOCLEAR = 4;
export const LO_FLAGS_PARTSCAN = 8;
export const LO_FLAGS_DIRECT_IO = 16;
/** linux/loop.h: LO_NAME_SIZE, the bytes of lo_file_name. */
export const LO_NAME_SIZE = 64;

/** linux/loop.h: request numbers. */
export const LOOP_SET_FD = _IO(L, 0x00);
export const LOOP_CLR_FD = _IO(L, 0x01);
export const LOOP_SET_STATUS64 = _IO(L, 0x04);
export const LOOP_GET_STATUS64 = _IO(L, 0x05);
export const LOOP_SET_DIRECT_IO = _IO(L, 0x08);
export const LOOP_CONFIGURE = _IO(L, 0x0a);
export const LOOP_CTL_ADD = _IO(L, 0x80);
export const LOOP_CTL_REMOVE = _IO(L, 0x81);
export const LOOP_CTL_GET_FREE = _IO(L, 0x82);
