/*
 * The ELF notes Xen's domain builders read (section .note.Xen, type
 * SHT_NOTE, also reachable through a PT_NOTE program header).
 *
 * One object per image variant: VIRT_BASE and, optionally, INIT_P2M come
 * from the build (-DGUEST_VIRT_BASE=..., -DGUEST_INIT_P2M=...). PADDR_OFFSET
 * equals VIRT_BASE and the image is linked with p_paddr == p_vaddr, so the
 * loader places every segment at its link address inside the initial
 * mapping (VA = VIRT_BASE + pfn * 4096).
 */
#include <xen/elfnote.h>

#ifndef GUEST_VIRT_BASE
#error "GUEST_VIRT_BASE must be defined by the build"
#endif

/* One note: name "Xen", a type, and a descriptor between labels. GAS
 * strips the quotes of a macro argument, so strings get their own macro. */
.macro NOTE_HEAD type
	.balign 4
	.long 4              /* namesz */
	.long 2f - 1f        /* descsz */
	.long \type
	.asciz "Xen"
	.balign 4
1:
.endm
.macro NOTE_STR type, str
	NOTE_HEAD \type
	.asciz "\str"
2:
.endm
.macro NOTE_NUM type, value
	NOTE_HEAD \type
	.quad \value
2:
.endm

	.section .note.Xen, "a", @note
	NOTE_STR XEN_ELFNOTE_GUEST_OS, "p2mkit"
	NOTE_STR XEN_ELFNOTE_GUEST_VERSION, "0.1"
	NOTE_STR XEN_ELFNOTE_XEN_VERSION, "xen-3.0"
	NOTE_STR XEN_ELFNOTE_LOADER, "generic"
	NOTE_STR XEN_ELFNOTE_FEATURES, "!writable_page_tables"
	NOTE_NUM XEN_ELFNOTE_VIRT_BASE, GUEST_VIRT_BASE
	NOTE_NUM XEN_ELFNOTE_PADDR_OFFSET, GUEST_VIRT_BASE
	NOTE_NUM XEN_ELFNOTE_ENTRY, _start
	NOTE_NUM XEN_ELFNOTE_HYPERCALL_PAGE, hypercall_page
#ifdef GUEST_INIT_P2M
	NOTE_NUM XEN_ELFNOTE_INIT_P2M, GUEST_INIT_P2M
#endif
	.balign 4
