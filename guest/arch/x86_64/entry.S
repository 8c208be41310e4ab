/*
 * Entry from Xen's PV builder, and the hypercall page.
 *
 * Xen enters _start in 64-bit mode, ring 3 (the PV kernel ring), with
 * %rsi = start_info (a VA inside the initial mapping) and %rsp on a
 * small bootstrap stack. We move to our own stack in .bss and call
 * kmain(start_info); kmain never returns (it exits through QEMU's
 * isa-debug-exit), but if it did we spin rather than execute garbage.
 *
 * hypercall_page: one page that Xen overwrites with 128 stubs of 32 bytes
 * (HYPERCALL_PAGE note); hypercall N is `call hypercall_page + N*32`.
 * It is filled with int3 so that a call before Xen fills it traps.
 */
	.section .text.entry, "ax", @progbits
	.globl _start
_start:
	lea	boot_stack_top(%rip), %rsp
	mov	%rsi, %rdi
	call	kmain
1:	pause
	jmp	1b

	.section .text.hypercall, "ax", @progbits
	.balign 4096
	.globl hypercall_page
hypercall_page:
	.fill	4096, 1, 0xcc

	.section .bss.stack, "aw", @nobits
	.balign 4096
boot_stack:
	.skip	65536
	.globl boot_stack_top
boot_stack_top:

	.section .note.GNU-stack, "", @progbits
