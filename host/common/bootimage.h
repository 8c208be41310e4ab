/*
 * bootimage: which files `p2m boot` boots, and whether QEMU is there.
 *
 * The guest image is chosen by its variant (guest/CMakeLists.txt builds
 * four: guest.elf, guest-initp2m.elf, guest-high.elf,
 * guest-high-initp2m.elf) and found in $P2M_GUEST_DIR, else in guest/
 * beside this binary (the build tree), else beside it. The hypervisor is
 * $P2M_CACHE/xen/xen, else cache/xen/xen (where scripts/get-xen.sh leaves
 * it) in this binary's directory or up to three of its parents, else from
 * the current directory up.
 */
#ifndef HOST_BOOTIMAGE_H
#define HOST_BOOTIMAGE_H

#include <stdbool.h>
#include <stddef.h>

/* The file name of the guest variant. */
const char *bootimage_guest_name(bool init_p2m, bool high);

/* A regular file at p? */
bool bootimage_is_file(const char *p);

/* Find the guest image `name`; out holds the path. */
bool bootimage_find_guest(const char *name, char *out, size_t n);

/* Find the Xen image; out holds the path (or the default, when false). */
bool bootimage_find_xen(char *out, size_t n);

/* Is prog an executable in $PATH? */
bool bootimage_on_path(const char *prog);

#endif
