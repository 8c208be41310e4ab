/*
 * Page tables under the PV rules: scratch views, walks, batched updates,
 * pinning, and the bounded M2P. See pt.h for the model.
 *
 * Scratch slots are pages of .bss; their original PTE (the boot image's
 * own frame, read-write) is recomputed from the initial list and written
 * back on unmap, so the slot's VA always maps something of ours.
 */
#include "arch/x86_64/hypercall.h"
#include "arch/x86_64/pt.h"
#include "common/guest.h"

#define NR_SCRATCH 8

static uint8_t scratch[NR_SCRATCH][4096] __attribute__((aligned(4096)));
static uint64_t scratch_orig[NR_SCRATCH];
static bool scratch_busy[NR_SCRATCH];
static xen_pfn_t root_mfn;

static uint64_t va_to_pfn(const void *va)
{
	return ((uint64_t)(uintptr_t)va - VIRT_BASE) >> PAGE_SHIFT;
}

void pt_init(const uint64_t *initial_list)
{
	unsigned i;

	root_mfn = initial_list[va_to_pfn((void *)start_info->pt_base)];
	for (i = 0; i < NR_SCRATCH; i++)
		scratch_orig[i] =
			(initial_list[va_to_pfn(scratch[i])] << PAGE_SHIFT) |
			PTE_LEAF_RW;
}

xen_pfn_t pt_root_mfn(void)
{
	return root_mfn;
}

static uint64_t root_pfn;

void pt_suspend(void)
{
	if (!m2p_read(root_mfn, &root_pfn))
		panic("pt_suspend: root table %#lx has no pfn", (unsigned long)root_mfn);
}

void pt_resume(uint64_t (*pfn_to_mfn)(uint64_t pfn))
{
	unsigned i;

	root_mfn = pfn_to_mfn(root_pfn);
	for (i = 0; i < NR_SCRATCH; i++)
		scratch_orig[i] = (pfn_to_mfn(va_to_pfn(scratch[i])) << PAGE_SHIFT) |
				  PTE_LEAF_RW;
}

void *pt_map(xen_pfn_t mfn, bool rw)
{
	unsigned i;

	/* Claimed atomically: several vCPUs map frames at once. The
	 * invalidation is local: a slot is only read by the vCPU that
	 * claimed it, after its own remap. */
	for (i = 0; i < NR_SCRATCH; i++) {
		if (__atomic_exchange_n(&scratch_busy[i], true, __ATOMIC_ACQUIRE))
			continue;
		if (hyp_update_va_mapping((uint64_t)(uintptr_t)scratch[i],
					  (mfn << PAGE_SHIFT) |
						  (rw ? PTE_LEAF_RW : PTE_LEAF_RO),
					  UVMF_INVLPG | UVMF_LOCAL)) {
			__atomic_store_n(&scratch_busy[i], false, __ATOMIC_RELEASE);
			return NULL;
		}
		return scratch[i];
	}
	return NULL;
}

void pt_unmap(void *va)
{
	unsigned i;

	for (i = 0; i < NR_SCRATCH; i++) {
		if ((void *)scratch[i] != va)
			continue;
		if (!scratch_busy[i])
			panic("pt_unmap: slot %u is not mapped", i);
		if (hyp_update_va_mapping((uint64_t)(uintptr_t)va,
					  scratch_orig[i],
					  UVMF_INVLPG | UVMF_LOCAL))
			panic("pt_unmap: cannot restore slot %u", i);
		__atomic_store_n(&scratch_busy[i], false, __ATOMIC_RELEASE);
		return;
	}
	panic("pt_unmap: %p is not a scratch slot", va);
}

uint64_t pt_read_entry(xen_pfn_t table, unsigned idx)
{
	const uint64_t *t = pt_map(table, false);
	uint64_t e;

	if (!t)
		panic("pt_read_entry: cannot map table mfn %#lx", (unsigned long)table);
	e = t[idx];
	pt_unmap((void *)t);
	return e;
}

int pt_walk(uint64_t va, struct pt_walk *w)
{
	xen_pfn_t table = root_mfn;
	int level;

	for (level = 4; level >= 1; level--) {
		unsigned idx = pt_index(va, level);
		uint64_t e = pt_read_entry(table, idx);

		w->tables[level] = table;
		w->entries[level] = e;
		w->level = level;
		w->entry = e;
		w->table = table;
		w->index = idx;
		w->leaf = false;
		if (!(e & PTE_P))
			return -1;
		if (level == 1 || (level <= 3 && (e & PTE_PSE))) {
			w->leaf = true;
			return 0;
		}
		table = pte_mfn(e);
	}
	return -1;
}

void mmu_batch_init(struct mmu_batch *b)
{
	b->n = 0;
	b->err = 0;
}

long mmu_flush(struct mmu_batch *b)
{
	unsigned done = 0;
	long rc;

	if (b->n) {
		rc = hyp_mmu_update(b->req, b->n, &done);
		if (rc && !b->err)
			b->err = rc;
		b->n = 0;
	}
	return b->err;
}

static void queue(struct mmu_batch *b, uint64_t ptr, uint64_t val)
{
	if (b->n == sizeof(b->req) / sizeof(b->req[0]))
		mmu_flush(b);
	b->req[b->n].ptr = ptr;
	b->req[b->n].val = val;
	b->n++;
}

void mmu_queue_pte(struct mmu_batch *b, xen_pfn_t table, unsigned idx,
		   uint64_t val)
{
	queue(b, (((uint64_t)table << PAGE_SHIFT) + idx * 8u) | MMU_NORMAL_PT_UPDATE,
	      val);
}

void mmu_queue_m2p(struct mmu_batch *b, xen_pfn_t mfn, uint64_t pfn)
{
	queue(b, ((uint64_t)mfn << PAGE_SHIFT) | MMU_MACHPHYS_UPDATE, pfn);
}

long pt_set_entry(xen_pfn_t table, unsigned idx, uint64_t val)
{
	struct mmu_batch b;

	mmu_batch_init(&b);
	mmu_queue_pte(&b, table, idx, val);
	return mmu_flush(&b);
}

static long mmuext(unsigned cmd, xen_pfn_t mfn)
{
	struct mmuext_op op = { .cmd = cmd };
	unsigned done = 0;

	op.arg1.mfn = mfn;
	return hyp_mmuext_op(&op, 1, &done);
}

long pt_pin(xen_pfn_t mfn, int level)
{
	static const unsigned cmd[5] = {
		0, MMUEXT_PIN_L1_TABLE, MMUEXT_PIN_L2_TABLE,
		MMUEXT_PIN_L3_TABLE, MMUEXT_PIN_L4_TABLE,
	};

	return mmuext(cmd[level], mfn);
}

long pt_unpin(xen_pfn_t mfn)
{
	return mmuext(MMUEXT_UNPIN_TABLE, mfn);
}

long pt_clear_frame(xen_pfn_t mfn)
{
	return mmuext(MMUEXT_CLEAR_PAGE, mfn);
}

/* Every vCPU's TLB: list pages are read lock-free on all of them. */
long pt_flush_tlb(void)
{
	return mmuext(MMUEXT_TLB_FLUSH_ALL, 0);
}

/* --- the M2P --- */

/* One flag per 2 MiB M2P chunk (2^18 mfns): present or a hole. Enough
 * for 2^31 mfns (8 TiB of host RAM); mfns above are treated as holes. */
#define M2P_CHUNK_SHIFT 18
#define M2P_MAX_CHUNKS 8192u

static uint8_t m2p_chunk[M2P_MAX_CHUNKS];
static uint64_t m2p_limit; /* mfns below this may be read */
uint64_t m2p_dense_limit;

int m2p_init(void)
{
	struct xen_machphys_mapping map;
	static xen_pfn_t chunks[M2P_MAX_CHUNKS];
	struct xen_machphys_mfn_list ml;
	long max_ram, rc;
	unsigned i;

	rc = hyp_memory_op(XENMEM_machphys_mapping, &map);
	if (rc)
		return (int)rc;
	if (map.v_start != MACH2PHYS_VIRT_START)
		panic("M2P at %#lx, expected %#lx", (unsigned long)map.v_start,
		      (unsigned long)MACH2PHYS_VIRT_START);
	max_ram = hyp_memory_op(XENMEM_maximum_ram_page, NULL);
	if (max_ram < 0)
		return (int)max_ram;
	m2p_limit = (uint64_t)max_ram + 1;
	if (m2p_limit > map.max_mfn + 1)
		m2p_limit = map.max_mfn + 1;

	ml.max_extents = M2P_MAX_CHUNKS;
	set_xen_guest_handle(ml.extent_start, chunks);
	ml.nr_extents = 0;
	rc = hyp_memory_op(XENMEM_machphys_mfn_list, &ml);
	if (rc)
		return (int)rc;
	for (i = 0; i < ml.nr_extents && i < M2P_MAX_CHUNKS; i++)
		m2p_chunk[i] = chunks[i] != 0;
	if (m2p_limit > ((uint64_t)ml.nr_extents << M2P_CHUNK_SHIFT))
		m2p_limit = (uint64_t)ml.nr_extents << M2P_CHUNK_SHIFT;
	for (i = 0; ((uint64_t)i << M2P_CHUNK_SHIFT) < m2p_limit && m2p_chunk[i]; i++)
		;
	m2p_dense_limit = (uint64_t)i << M2P_CHUNK_SHIFT;
	if (m2p_dense_limit > m2p_limit)
		m2p_dense_limit = m2p_limit;
	return 0;
}

uint64_t m2p_max_mfn(void)
{
	return m2p_limit;
}

bool m2p_read(xen_pfn_t mfn, uint64_t *pfn)
{
	const volatile uint64_t *m2p = (const uint64_t *)MACH2PHYS_VIRT_START;

	if (mfn >= m2p_limit || !m2p_chunk[mfn >> M2P_CHUNK_SHIFT])
		return false;
	*pfn = m2p[mfn];
	return true;
}
