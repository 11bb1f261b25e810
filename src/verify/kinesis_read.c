/* kinesis_read: reading the Kinesis streams back (see pp_kinesis_read.h).
 * PLACEHOLDER during the restructuring: replaced by the real reader before this lands. */
#include "pp_kinesis_read.h"
#include "pp_util.h"

int pp_kinesis_read(const pp_config *c, int64_t since_ms, double timeout_s, pp_kinesis_record_cb cb,
                    void *opaque, char *errstr, size_t errstr_size)
{
    (void)c, (void)since_ms, (void)timeout_s, (void)cb, (void)opaque;
    pp_errf(errstr, errstr_size, "reading Kinesis is not built yet");
    return -1;
}
