/*
 * The `smp` check: lock-free readers on every vCPU while writers on the
 * others change the P2M.
 *
 * Scratch: the last SCRATCH_SLOTS slots below the capacity, above max_pfn
 * (nothing of the guest is there and nothing raises max_pfn: the writers
 * store only ~0 and identity values). It must hold one kind throughout
 * (identity above a domU's RAM, or missing), and gets it back after. Each vCPU owns every ncpu-th slot
 * of it (libp2m wants writers of one pfn serialised by the caller) and,
 * round after round, either
 *   - sets one pfn of an owned slot to ~0 or to its identity value (a
 *     shared slot is split into a private leaf, under the platform lock,
 *     with the generation moved), or
 *   - returns a whole owned slot to the shared missing or identity page
 *     (a join: the leaf is freed, and may come back at once as another
 *     slot's leaf on another vCPU);
 * then reads READS_PER_ROUND pfns anywhere: half from a sample of RAM
 * pfns, half from the whole scratch region (other vCPUs' slots too).
 *
 * The invariant a reader checks: a RAM pfn maps an mfn whose M2P entry is
 * that pfn (nothing writes RAM pfns during the run); a scratch pfn q reads
 * ~0 or identity(q), never anything else. Identity values carry their pfn,
 * so a reader that saw a freed leaf reused for another slot, a page table,
 * or any stale mapping would read a value of the wrong pfn and count a
 * violation.
 *
 * Afterwards vCPU 0 returns the scratch region to its kind and compares
 * what the P2M costs (private leaves, platform frames in use) with before:
 * every split was joined again and no frame leaked.
 */
#include "arch/x86_64/hypercall.h"
#include "arch/x86_64/pt.h"
#include "common/boot.h"
#include "common/clock.h"
#include "common/platform.h"
#include "common/smp.h"
#include "p2m/fmt.h"

#define SCRATCH_SLOTS 32u
#define RAM_SAMPLES 1024u
#define READS_PER_ROUND 64u
#define ROUNDS 400u

struct smp_stats {
	uint64_t reads, violations, writes, errors;
	uint64_t bad_pfn, bad_value;
} __attribute__((aligned(64)));

static struct {
	uint64_t scratch, npfns;  /* [scratch, scratch + npfns) */
	uint64_t ram[RAM_SAMPLES];
	unsigned nram, ncpu;
	uint64_t rounds;
	struct smp_stats st[SMP_MAX_CPUS];
} t;

bool smp_check_due = true;

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void write_one(unsigned cpu, uint64_t *seed, struct smp_stats *st)
{
	struct p2m *p = &boot.p2m;
	uint64_t r = rnd(seed);
	uint64_t owned = SCRATCH_SLOTS / t.ncpu;
	uint64_t slot = cpu + t.ncpu * (r % owned);
	uint64_t base = t.scratch + slot * P2M_PER_PAGE;
	uint64_t pfn = base + ((r >> 20) % P2M_PER_PAGE);
	int rc;

	switch ((r >> 40) % 16) {
	case 0:
		rc = p2m_set_range_missing(p, base, P2M_PER_PAGE);
		break;
	case 1:
		rc = p2m_set_range_identity(p, base, P2M_PER_PAGE);
		break;
	default:
		rc = p2m_set(p, pfn, (r >> 50) & 1 ? p2m_identity_entry(pfn) : P2M_INVALID);
		break;
	}
	st->writes++;
	if (rc) {
		if (!st->errors)
			printk("smp: vCPU %u: write at pfn %#lx: %s\n", cpu, (unsigned long)pfn,
			       p2m_last_error(p));
		st->errors++;
	}
}

static void read_some(uint64_t *seed, struct smp_stats *st)
{
	struct p2m_view v = p2m_view(&boot.p2m);
	unsigned i;

	for (i = 0; i < READS_PER_ROUND; i++) {
		uint64_t r = rnd(seed), pfn, e, m2p;
		bool ok;

		if (i & 1) {
			pfn = t.ram[r % t.nram];
			e = p2m_view_raw(&v, pfn);
			ok = e < P2M_MFN_LIMIT && m2p_lookup(e, &m2p) && m2p == pfn;
		} else {
			pfn = t.scratch + r % t.npfns;
			e = p2m_view_raw(&v, pfn);
			ok = e == P2M_INVALID || e == p2m_identity_entry(pfn);
		}
		st->reads++;
		if (__builtin_expect(!ok, 0)) {
			if (!st->violations) {
				st->bad_pfn = pfn;
				st->bad_value = e;
			}
			st->violations++;
		}
	}
}

static void worker(unsigned cpu, void *arg)
{
	struct smp_stats *st = &t.st[cpu];
	uint64_t seed = 0x9e3779b97f4a7c15ull * (cpu + 1);
	uint64_t round;

	(void)arg;
	for (round = 0; round < t.rounds; round++) {
		write_one(cpu, &seed, st);
		read_some(&seed, st);
		/* Give the pCPU away now and then: with fewer pCPUs than
		 * vCPUs this is what interleaves the others with us at
		 * points other than the timer's. */
		if (rnd(&seed) % 8 == 0)
			hyp_sched_op(SCHEDOP_yield, NULL);
	}
}

/* RAM pfns whose entry agrees with the M2P before the run. */
static void sample_ram(void)
{
	struct p2m *p = &boot.p2m;
	uint64_t end = p2m_max_pfn(p), step, pfn, m2p;

	t.nram = 0;
	step = end / RAM_SAMPLES + 1;
	for (pfn = 0; pfn < end && t.nram < RAM_SAMPLES; pfn += step) {
		uint64_t e = p2m_raw(p, pfn);

		if (e < P2M_MFN_LIMIT && m2p_lookup(e, &m2p) && m2p == pfn)
			t.ram[t.nram++] = pfn;
	}
}

/* The one kind the whole scratch region holds (missing or identity), or
 * P2M_KIND_RAM when it is mixed or holds anything else. */
static enum p2m_kind scratch_kind(void)
{
	enum p2m_kind k = p2m_kind_of(&boot.p2m, t.scratch);
	uint64_t q;

	if (k != P2M_KIND_MISSING && k != P2M_KIND_IDENTITY)
		return P2M_KIND_RAM;
	for (q = t.scratch; q < t.scratch + t.npfns; q++)
		if (p2m_kind_of(&boot.p2m, q) != k)
			return P2M_KIND_RAM;
	return k;
}

static uint64_t frames_in_use(void)
{
	return platform_stats.allocs - platform_stats.frees;
}

bool smp_check(char *out, unsigned long cap)
{
	struct p2m *p = &boot.p2m;
	struct p2m_stats before, after;
	struct smp_stats sum = { 0 };
	uint64_t gen0, gen1, used0, used1, t0, ms;
	enum p2m_kind kind;
	unsigned i;
	long rc;
	int err;

	smp_check_due = false;
	t.ncpu = smp_cpus();
	t.npfns = (uint64_t)SCRATCH_SLOTS * P2M_PER_PAGE;
	t.scratch = p->capacity - t.npfns;
	t.rounds = ROUNDS;
	sample_ram();
	kind = scratch_kind();
	if (t.scratch < p2m_max_pfn(p) || !t.nram || kind == P2M_KIND_RAM) {
		p2m_snprintf(out, cap,
			     "no room: scratch %#lx below max_pfn %#lx, not of one kind, or no RAM (%u)",
			     (unsigned long)t.scratch, (unsigned long)p2m_max_pfn(p), t.nram);
		return false;
	}
	__builtin_memset(t.st, 0, sizeof(t.st));
	p2m_get_stats(p, &before);
	used0 = frames_in_use();
	gen0 = p2m_generation(p);
	t0 = clock_ns();
	rc = smp_run(worker, NULL);
	ms = clock_ms_since(t0);
	gen1 = p2m_generation(p);
	err = kind == P2M_KIND_IDENTITY ? p2m_set_range_identity(p, t.scratch, t.npfns)
					: p2m_set_range_missing(p, t.scratch, t.npfns);
	err = err ? err : scratch_kind() != kind;
	p2m_get_stats(p, &after);
	used1 = frames_in_use();
	for (i = 0; i < t.ncpu; i++) {
		sum.reads += t.st[i].reads;
		sum.writes += t.st[i].writes;
		sum.errors += t.st[i].errors;
		if (t.st[i].violations && !sum.violations) {
			sum.bad_pfn = t.st[i].bad_pfn;
			sum.bad_value = t.st[i].bad_value;
		}
		sum.violations += t.st[i].violations;
	}
	if (sum.violations)
		printk("smp: first violation: pfn %#lx read %#lx\n", (unsigned long)sum.bad_pfn,
		       (unsigned long)sum.bad_value);
	p2m_snprintf(out, cap,
		     "%u vCPUs x %lu rounds over %lu %s pfns: %lu reads, %lu violations; %lu writes, %lu errors; "
		     "generation %lu -> %lu; private leaves %lu -> %lu, frames in use %lu -> %lu; %lu ms",
		     t.ncpu, (unsigned long)t.rounds, (unsigned long)t.npfns, p2m_kind_name(kind),
		     (unsigned long)sum.reads,
		     (unsigned long)sum.violations, (unsigned long)sum.writes,
		     (unsigned long)sum.errors, (unsigned long)gen0, (unsigned long)gen1,
		     (unsigned long)before.private_leaves, (unsigned long)after.private_leaves,
		     (unsigned long)used0, (unsigned long)used1, (unsigned long)ms);
	return !rc && !err && !sum.violations && !sum.errors && t.ncpu > 1 &&
	       sum.reads == (uint64_t)t.ncpu * t.rounds * READS_PER_ROUND &&
	       before.private_leaves == after.private_leaves && used0 == used1 &&
	       (gen1 & 1) == 0 && gen1 > gen0;
}
