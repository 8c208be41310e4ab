/*
 * bootlock: large boots of `p2m boot` one at a time on this host.
 *
 * A boot over BOOTLOCK_THRESHOLD needs up to ~17 MB of host RAM per GiB
 * (Xen's frame table and M2P, the guest's P2M), so two at once could
 * exhaust the machine whoever started them. The lock is an exclusive
 * flock on a well-known file ($P2M_BIGMEM_LOCK overrides BOOTLOCK_PATH),
 * held until the fd is closed or the process exits. Waiting is announced
 * on stdout; a warning says when MemAvailable looks too small.
 */
#ifndef HOST_BOOTLOCK_H
#define HOST_BOOTLOCK_H

#include <stdint.h>

#define BOOTLOCK_THRESHOLD ((uint64_t)64 << 30)
#define BOOTLOCK_PATH "/tmp/p2m-boot-bigmem.lock"

/* Take the lock for a boot of mem bytes (waits for another holder). The
 * fd to close when the boot is over, or -1 when locking is impossible
 * (said on stderr; the boot goes on). */
int bootlock_take(uint64_t mem);

#endif
