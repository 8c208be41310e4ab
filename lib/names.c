/* Names of errors and kinds, for messages and dumps. */
#include "p2m/dump.h"
#include "p2m/entry.h"
#include "p2m/error.h"

const char *p2m_strerror(int err)
{
	static const char *const names[P2M_NERRORS] = {
		[P2M_OK] = "success",
		[P2M_EINVAL] = "invalid argument",
		[P2M_ERANGE] = "out of range",
		[P2M_ENOMEM] = "out of frames",
		[P2M_EMAP] = "mapping failed",
		[P2M_EBUSY] = "entry busy",
		[P2M_ENOSPC] = "array too small",
		[P2M_ECONFLICT] = "conflict",
		[P2M_EPARSE] = "malformed input",
		[P2M_ENOSYS] = "operation not provided",
		[P2M_ECHECK] = "consistency check failed",
	};

	/* Negate in unsigned: -INT_MIN does not exist. */
	unsigned e = err < 0 ? 0u - (unsigned)err : (unsigned)err;

	return e < P2M_NERRORS ? names[e] : "unknown error";
}

const char *p2m_kind_name(enum p2m_kind k)
{
	switch (k) {
	case P2M_KIND_RAM: return "ram";
	case P2M_KIND_MISSING: return "missing";
	case P2M_KIND_IDENTITY: return "identity";
	case P2M_KIND_FOREIGN: return "foreign";
	}
	return "?";
}

const char *p2m_run_name(enum p2m_run_kind k)
{
	switch (k) {
	case P2M_RUN_PFN: return "pfn";
	case P2M_RUN_IDENTITY: return "identity";
	case P2M_RUN_MISSING: return "missing";
	}
	return "?";
}
