/*
 * p2mpeek: read a live domU's published P2M from dom0 with libp2mread,
 * once through the linear list (as Xen 4.17's saver reads it) and once as
 * a reader that knows only the 3-level tree (tests/xen/p2mpeek.h). The
 * domU's shared_info frame comes from XEN_DOMCTL_getdomaininfo
 * (xc_domain_getinfo), the host's highest mfn from xc_maximum_ram_page;
 * every frame is mapped read-only, one at a time, with
 * libxenforeignmemory (privcmd). Built static against Debian's libxen-dev
 * for the toolstack tier's initramfs (scripts/toolstack.sh --big).
 *
 *   p2mpeek DOMID
 *
 * Exit status: 0 when the list was read and the tree-only read behaved as
 * the tree's 512 GiB reach says (refused above it), 1 otherwise.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <xenctrl.h>
#include <xenforeignmemory.h>

#include "p2mpeek.h"

struct peek_ctx {
	xenforeignmemory_handle *fmem;
	uint32_t domid;
	uint64_t failed;
};

static const void *peek_map(void *c, uint64_t mfn)
{
	struct peek_ctx *p = c;
	xen_pfn_t f = (xen_pfn_t)mfn;
	int err = 0;
	void *page = xenforeignmemory_map(p->fmem, p->domid, PROT_READ, 1, &f, &err);

	if (page && err) {
		xenforeignmemory_unmap(p->fmem, page, 1);
		page = NULL;
	}
	if (!page)
		p->failed++;
	return page;
}

static void peek_unmap(void *c, uint64_t mfn, const void *page)
{
	struct peek_ctx *p = c;

	(void)mfn;
	xenforeignmemory_unmap(p->fmem, (void *)page, 1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct peek_ctx p = { 0 };
	struct peek_result r;
	xc_dominfo_t info;
	xc_interface *xch;
	unsigned long max_mfn = 0;
	xen_pfn_t si;
	shared_info_t *shared;
	char *end;
	double t0;
	int err = 0, rc;

	if (argc != 2 || !*argv[1] || (p.domid = (uint32_t)strtoul(argv[1], &end, 10), *end)) {
		fprintf(stderr, "usage: p2mpeek DOMID\n");
		return 2;
	}
	xch = xc_interface_open(NULL, NULL, 0);
	p.fmem = xenforeignmemory_open(NULL, 0);
	if (!xch || !p.fmem) {
		fprintf(stderr, "p2mpeek: cannot open libxenctrl/libxenforeignmemory: %s\n",
			strerror(errno));
		return 1;
	}
	if (xc_domain_getinfo(xch, p.domid, 1, &info) != 1 || info.domid != p.domid) {
		fprintf(stderr, "p2mpeek: no domain %u\n", p.domid);
		return 1;
	}
	if (xc_maximum_ram_page(xch, &max_mfn)) {
		fprintf(stderr, "p2mpeek: xc_maximum_ram_page: %s\n", strerror(errno));
		return 1;
	}
	si = info.shared_info_frame;
	shared = xenforeignmemory_map(p.fmem, p.domid, PROT_READ, 1, &si, &err);
	if (!shared || err) {
		fprintf(stderr, "p2mpeek: cannot map shared_info (mfn %#lx): %s\n",
			(unsigned long)si, strerror(err ? err : errno));
		return 1;
	}
	printf("p2mpeek: domain %u: %lu pages, shared_info mfn %#lx, max_mfn %#lx; "
	       "published max_pfn %#lx, frame list list %#lx, p2m_cr3 %#lx, p2m_vaddr %#lx, "
	       "generation %lu\n",
	       p.domid, (unsigned long)info.nr_pages, (unsigned long)si, max_mfn,
	       shared->arch.max_pfn, (unsigned long)shared->arch.pfn_to_mfn_frame_list_list,
	       shared->arch.p2m_cr3, shared->arch.p2m_vaddr, shared->arch.p2m_generation);
	t0 = now();
	rc = peek_run(&shared->arch,
		      &(struct p2mr_frames){ .ctx = &p, .map = peek_map, .unmap = peek_unmap,
					      .max_mfn = max_mfn },
		      &r, stdout);
	printf("p2mpeek: %.1f s for the reads; %llu frame(s) could not be mapped\n", now() - t0,
	       (unsigned long long)p.failed);
	xenforeignmemory_unmap(p.fmem, shared, 1);
	xenforeignmemory_close(p.fmem);
	xc_interface_close(xch);
	return rc;
}
