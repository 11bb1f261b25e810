/* fuzz_awsparse: the parsers of STS XML, metadata-service JSON, INI files and ISO 8601
 * times on arbitrary bytes. */
#include "fuzz.h"
#include "pp_awsparse.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    char err[512];
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    pp_aws_creds c = {0};
    pp_aws_parse_sts(text, &c, err, sizeof(err));
    pp_aws_creds_clear(&c);
    pp_aws_parse_json_creds(text, &c, err, sizeof(err));
    pp_aws_creds_clear(&c);
    free(pp_aws_ini_get(text, "default", "aws_access_key_id"));
    free(pp_aws_ini_get(text, "profile team", "aws_session_token"));
    pp_aws_parse_time(text);
    free(text);
    return 0;
}
