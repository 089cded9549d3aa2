/* Compiled by PluginHeader.CompilesAsPedanticC99AndAsCxx with -std=c99 -Wall -Wextra -pedantic
 * -Werror (and as C++): tessera.h must be clean C99 and usable from C++. */
#include <string.h>

#include "tessera.h"

int tessera_header_check(void);
int tessera_header_check(void) {
  tsr_context_desc desc;
  tsr_generate_desc gen;
  tsr_tick_stats stats;
  tsr_context ctx;
  memset(&desc, 0, sizeof desc);
  memset(&gen, 0, sizeof gen);
  memset(&stats, 0, sizeof stats);
  desc.struct_size = sizeof desc;
  gen.struct_size = sizeof gen;
  stats.struct_size = sizeof stats;
  if (tsr_context_create(&desc, &ctx) != TSR_SUCCESS) return -1;
  return (int)TSR_VERSION_GET_MAJOR(TSR_VERSION) + (int)tsr_tick(ctx, 4.0, &stats);
}
