/* fuzz_awsparse: the parsers of STS XML, metadata-service JSON, INI files, ISO 8601 times,
 * base64 and the Kinesis answers (ListShards, GetShardIterator, GetRecords, errors) on
 * arbitrary bytes. The Kinesis parsers get the bytes as they are, NULs included: an answer
 * is a length, not a C string. */
#include "fuzz.h"
#include "pp_awsparse.h"

#include <stdlib.h>
#include <string.h>

static void kinesis(const char *data, size_t size)
{
    char err[512], type[128], msg[256], **ids = NULL, *token = NULL, *it = NULL;
    size_t n = 0;
    pp_kinesis_parse_error(data, size, 400, type, sizeof(type), msg, sizeof(msg));
    pp_kinesis_parse_list_shards(data, size, &ids, &n, &token, err, sizeof(err));
    for (size_t i = 0; i < n; i++)
        pp_kinesis_shard_number(ids[i]), free(ids[i]);
    free(ids);
    free(token);
    pp_kinesis_parse_shard_iterator(data, size, &it, err, sizeof(err));
    free(it);
    pp_kinesis_got g = {0};
    if (pp_kinesis_parse_get_records(data, size, &g, err, sizeof(err)) == 0)
        for (size_t i = 0; i < g.n; i++)
            /* every record's bytes lie inside the decoded data */
            if (g.records[i].data_off + g.records[i].data_len > g.data.len ||
                strlen(g.records[i].partition_key) != g.records[i].partition_key_len)
                abort();
    pp_kinesis_got_free(&g);
    pp_buf b = {0};
    pp_aws_base64_decode(&b, data, size);
    pp_buf_free(&b);
}

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
    kinesis((const char *)data, size);
    free(text);
    return 0;
}
