/*
 * State and services shared by the guest's files.
 *
 * No interrupts, no scheduler: a boot program that runs from kmain() to
 * the exit port on vCPU 0. The other vCPUs (smp.h) only run what
 * smp_run() gives them, next to vCPU 0: what that touches (libp2m's lock,
 * the frame pool, scratch views, platform counters) is locked or atomic;
 * every other global is plain, used by vCPU 0 alone.
 *
 * Address spaces. The initial mapping (Xen's builder) maps pfn p at
 * VIRT_BASE + p*4096 for the first few MiB (kernel image, start_info,
 * bootstrap page tables, stack, padding). Everything else the guest maps
 * itself through arch/x86_64/pt.c.
 */
#ifndef GUEST_GUEST_H
#define GUEST_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "p2m/xen.h"

#ifndef GUEST_VIRT_BASE
#error "GUEST_VIRT_BASE must be defined by the build"
#endif
#define VIRT_BASE ((uint64_t)GUEST_VIRT_BASE)

#define PAGE_SHIFT 12
#define PAGE_SIZE ((uint64_t)1 << PAGE_SHIFT)

extern start_info_t *start_info;

/* console.c: con_init() after start_info is set (a domU's ring) */
void con_init(void);
void con_write(const char *s, size_t n);
/* A domU: wait until xenconsoled drained the ring (bounded). */
void con_flush(void);
void printk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print and leave through the exit port with the failure status. */
void panic(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* exit.c: QEMU's isa-debug-exit; see README.md for the status values. */
#define EXIT_PASS 0x10
#define EXIT_FAIL 0x11
void guest_exit(unsigned v) __attribute__((noreturn));

/* cmdline.c: "key" or "key=value" words of start_info.cmd_line. */
bool cmdline_has(const char *key);
const char *cmdline_value(const char *key, size_t *len);
/* A size in pfns ("768M", "2G", "196608p"; "0"/"off": 0): 1 if present,
 * 0 if absent; a malformed value panics naming it. */
int cmdline_pfns(const char *key, uint64_t *pfns);
/* Every memmap=SIZE$START word (Linux's form for a reserved range;
 * SIZE and START are bytes, decimal or 0x hex, with K/M/G/T): up to cap
 * ranges into addr[] and size[]; returns how many. Another form of
 * memmap= or a malformed value panics naming it. */
unsigned cmdline_memmap(uint64_t *addr, uint64_t *size, unsigned cap);

#endif
