/*
 * Grant mappings into the P2M (foreign entries), with the batch
 * semantics Linux has had since XSA-361/367.
 *
 * dom0's peer (tests/xen/gntpeer.c) grants pages to us and writes
 * "DOMID REF REF ..." into data/p2m-grants. One GNTTABOP_map_grant_ref
 * batch maps them read-only, each at a page of our own image
 * (GNTMAP_host_map: Xen writes that VA's PTE), together with two refs
 * that must fail: a ref beyond any grant table and a domain that does not
 * exist. Per slot, by its own status:
 *   - mapped: the frame is read from the PTE Xen wrote, the pfn (a
 *     missing pfn above the balloon's top) gets the foreign entry, and the
 *     page is checked word by word against the peer's pattern;
 *   - failed: nothing of it is mapped and its pfn's entry stays missing
 *     (the P2M is only written for slots that mapped).
 * Then one GNTTABOP_unmap_grant_ref batch of every mapped slot plus one
 * slot with a handle never issued: each slot's status is reported, the
 * bad one must fail alone, the pfns of the unmapped slots go back to
 * missing and the pages get their own frames back under their VAs.
 */
#include "arch/x86_64/hypercall.h"
#include "arch/x86_64/pt.h"
#include "common/balloon.h"
#include "common/boot.h"
#include "common/grant.h"
#include "common/xenstore.h"
#include "p2m/fmt.h"
#include <xen/grant_table.h>

#define MAX_GOOD 8u
#define NR_BAD 2u
#define SLOTS (MAX_GOOD + NR_BAD)
#define BAD_REF 0x7ffffffu
#define BAD_DOMID 0x7000u
#define BAD_HANDLE 0x7fffffu
/* A debug Xen logs each of the three refusals: tests/xen/CMakeLists.txt
 * allows exactly these texts in the debug run (P2M_XEN_LOG_ALLOW). */

static uint8_t page[SLOTS][4096] __attribute__((aligned(4096)));
static struct gnttab_map_grant_ref map[SLOTS];
static struct gnttab_unmap_grant_ref unmap[SLOTS + 1];

/* Word j of granted page i, as tests/xen/gntpeer.c writes it. */
static uint64_t peer_word(unsigned i, unsigned j)
{
	return 0x67726e7400000000ull | ((uint64_t)i << 16) | j;
}

static uint64_t va_of(unsigned slot)
{
	return (uint64_t)(uintptr_t)page[slot];
}

/* "DOMID REF REF ..." -> the good refs; their count or -1. */
static int parse(const char *s, domid_t *dom, uint32_t *refs)
{
	uint64_t v[1 + MAX_GOOD];
	int n = 0;

	while (*s && n < (int)(1 + MAX_GOOD)) {
		uint64_t x = 0;

		while (*s == ' ')
			s++;
		if (*s < '0' || *s > '9')
			break;
		while (*s >= '0' && *s <= '9')
			x = x * 10 + (uint64_t)(*s++ - '0');
		v[n++] = x;
	}
	if (n < 2)
		return -1;
	*dom = (domid_t)v[0];
	for (int i = 1; i < n; i++)
		refs[i - 1] = (uint32_t)v[i];
	return n - 1;
}

/* Map the batch; fills mfn[] for slots that mapped. Returns how many
 * mapped; *bad_ok tells whether exactly the bad slots failed. */
static unsigned map_batch(unsigned n, uint64_t pfn0, xen_pfn_t *mfn, uint64_t *wrong_words,
			  bool *bad_ok)
{
	unsigned i, mapped = 0;

	HYPERCALL(grant_table_op, GNTTABOP_map_grant_ref, map, n, 0, 0);
	*bad_ok = true;
	*wrong_words = 0;
	for (i = 0; i < n; i++) {
		bool bad_slot = i >= n - NR_BAD;
		struct pt_walk w;

		mfn[i] = P2M_INVALID;
		if (map[i].status != GNTST_okay) {
			*bad_ok = *bad_ok && bad_slot;
			printk("grant: slot %u (ref %u of dom %u): status %d, pfn %#lx stays missing\n",
			       i, map[i].ref, map[i].dom, map[i].status,
			       (unsigned long)(pfn0 + i));
			continue;
		}
		*bad_ok = *bad_ok && !bad_slot;
		if (pt_walk(va_of(i), &w) || !w.leaf)
			panic("grant: slot %u mapped but its VA has no PTE", i);
		mfn[i] = pte_mfn(w.entry);
		if (p2m_set_foreign(&boot.p2m, &(uint64_t){ pfn0 + i }, &(uint64_t){ mfn[i] }, 1))
			printk("grant: pfn %#lx: %s\n", (unsigned long)(pfn0 + i),
			       p2m_last_error(&boot.p2m));
		for (unsigned j = 0; j < 512; j++)
			*wrong_words += ((const volatile uint64_t *)page[i])[j] != peer_word(i, j);
		mapped++;
	}
	return mapped;
}

/* Unmap every mapped slot and one never-issued handle; the pfns of the
 * unmapped slots go back to missing, the pages get their frames back.
 * Returns the slots unmapped; *bad_ok: only the bogus one failed. */
static unsigned unmap_batch(unsigned n, uint64_t pfn0, const xen_pfn_t *mfn, bool *bad_ok)
{
	unsigned i, k = 0, done = 0;
	unsigned slot_of[SLOTS + 1];

	for (i = 0; i < n; i++) {
		if (mfn[i] == P2M_INVALID)
			continue;
		unmap[k] = (struct gnttab_unmap_grant_ref){ .host_addr = va_of(i),
							    .handle = map[i].handle };
		slot_of[k++] = i;
	}
	unmap[k] = (struct gnttab_unmap_grant_ref){ .host_addr = va_of(n - 1), .handle = BAD_HANDLE };
	slot_of[k++] = SLOTS;
	HYPERCALL(grant_table_op, GNTTABOP_unmap_grant_ref, unmap, k, 0, 0);
	*bad_ok = true;
	for (i = 0; i < k; i++) {
		unsigned s = slot_of[i];
		uint64_t bad = P2M_INVALID, pfn = pfn0 + s;
		uint64_t own = boot_pfn_to_mfn((va_of(s < SLOTS ? s : n - 1) - VIRT_BASE) >> PAGE_SHIFT);

		if (unmap[i].status != GNTST_okay) {
			*bad_ok = *bad_ok && s == SLOTS;
			printk("grant: unmap %u (%s): status %d\n", i,
			       s == SLOTS ? "never-issued handle" : "mapped slot", unmap[i].status);
			continue;
		}
		*bad_ok = *bad_ok && s != SLOTS;
		p2m_clear_foreign(&boot.p2m, &pfn, 1, &bad);
		if (hyp_update_va_mapping(va_of(s), (own << PAGE_SHIFT) | PTE_LEAF_RW,
					  UVMF_INVLPG | UVMF_ALL))
			panic("grant: cannot give slot %u its own frame back", s);
		done++;
	}
	return done;
}

bool grant_run(char *line, size_t cap)
{
	uint32_t refs[MAX_GOOD];
	xen_pfn_t mfn[SLOTS];
	uint64_t pfn0 = balloon_top(), wrong, gen0 = p2m_generation(&boot.p2m), still = 0;
	unsigned n, i, mapped, unmapped;
	bool map_ok, unmap_ok;
	domid_t dom;
	char v[128];
	int good;

	if (xs_read("data/p2m-grants", v, sizeof(v)) <= 0 || (good = parse(v, &dom, refs)) < 1 ||
	    !pfn0) {
		p2m_snprintf(line, cap, "no grants in data/p2m-grants ('%s') or no balloon", v);
		return false;
	}
	n = (unsigned)good + NR_BAD;
	for (i = 0; i < n; i++) {
		map[i] = (struct gnttab_map_grant_ref){
			.host_addr = va_of(i), .flags = GNTMAP_host_map | GNTMAP_readonly,
			.ref = i < (unsigned)good ? refs[i] : refs[0], .dom = dom };
		if (p2m_raw(&boot.p2m, pfn0 + i) != P2M_INVALID) {
			p2m_snprintf(line, cap, "pfn %#lx is not missing", (unsigned long)(pfn0 + i));
			return false;
		}
	}
	map[n - 2].ref = BAD_REF;      /* beyond any grant table */
	map[n - 1].dom = BAD_DOMID;    /* no such domain */
	mapped = map_batch(n, pfn0, mfn, &wrong, &map_ok);
	unmapped = unmap_batch(n, pfn0, mfn, &unmap_ok);
	for (i = 0; i < n; i++)
		still += p2m_raw(&boot.p2m, pfn0 + i) != P2M_INVALID;
	p2m_snprintf(line, cap,
		     "map batch of %u (%d good refs of dom %u, a bad ref, a bad domain): %u mapped, "
		     "%lu words wrong, failed slots %s; unmap batch (+1 bogus handle): %u unmapped, "
		     "%s; %lu pfns not missing after; generation %lu -> %lu",
		     n, good, dom, mapped, (unsigned long)wrong,
		     map_ok ? "exactly the bad ones" : "WRONG", unmapped,
		     unmap_ok ? "only the bogus one refused" : "WRONG statuses",
		     (unsigned long)still, (unsigned long)gen0,
		     (unsigned long)p2m_generation(&boot.p2m));
	return map_ok && unmap_ok && mapped == (unsigned)good && unmapped == mapped && !wrong &&
	       !still;
}
