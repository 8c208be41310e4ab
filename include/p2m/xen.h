/*
 * The Xen public ABI, as libp2m uses it.
 *
 * Every ABI type and constant (xen_pfn_t, start_info, arch_shared_info,
 * MACH2PHYS_*, ELF note numbers) comes from Xen's own public headers
 * (Debian package libxen-dev, /usr/include/xen); nothing here retypes them.
 * We ask for the 4.14+ interface, which is what Xen 4.17 implements.
 */
#ifndef P2M_XEN_H
#define P2M_XEN_H

#ifndef __XEN_INTERFACE_VERSION__
#define __XEN_INTERFACE_VERSION__ 0x00040e00
#endif

#include <stdint.h>
#include <xen/xen.h>

#endif
