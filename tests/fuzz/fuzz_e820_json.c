/* libFuzzer target: the json parser of host/e820, then the planner on
 * every map it finds (see fuzz_e820_parse_common.h). */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_e820_parse_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_parse_and_plan(data, size, MEMMAP_FMT_JSON);
	return 0;
}
