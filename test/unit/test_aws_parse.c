/* Unit tests of the parsers of AWS answers that the Kinesis reader relies on: base64, and
 * the ListShards, GetShardIterator, GetRecords and error answers (shapes as in the Kinesis
 * API reference). */
#include "unit.h"

#include "pp_awsparse.h"

static void base64_decode__table__bytes_or_refused(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *out; /* NULL: refused */
        size_t out_len;
    } cases[] = {
        {"", "", 0},
        {"Zg==", "f", 1},
        {"Zm8=", "fo", 2},
        {"Zm9v", "foo", 3},
        {"Zm9vYg", "foob", 4}, /* padding is optional */
        {"eyJrIjoxfQ==", "{\"k\":1}", 7},
        {"AP8A/w==", "\0\xff\0\xff", 4},
        {"+/+/", "\xfb\xff\xbf", 3},
        {"Zg=", NULL, 0},    /* padding that does not complete a quantum */
        {"Zm9vY", NULL, 0},  /* a lone sixth of a byte */
        {"Zm9v\n", NULL, 0}, /* no other characters */
        {"Zm-_", NULL, 0},   /* the URL alphabet is not Kinesis's */
        {"Z===", NULL, 0},
        {"Zg==Zg==", NULL, 0}, /* padding only at the end */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pp_buf b = {0};
        int rc = pp_aws_base64_decode(&b, cases[i].in, strlen(cases[i].in));
        if (!cases[i].out) {
            if (rc == 0)
                fail_msg("'%s' was taken", cases[i].in);
        } else {
            if (rc != 0)
                fail_msg("'%s' was refused", cases[i].in);
            assert_int_equal(b.len, cases[i].out_len);
            assert_memory_equal(b.data, cases[i].out, cases[i].out_len);
        }
        pp_buf_free(&b);
    }
}

static void shard_number__ids__number(void **state)
{
    (void)state;
    assert_int_equal(pp_kinesis_shard_number("shardId-000000000003"), 3);
    assert_int_equal(pp_kinesis_shard_number("shardId-000000000000"), 0);
    assert_int_equal(pp_kinesis_shard_number("shard"), -1);
    assert_int_equal(pp_kinesis_shard_number(NULL), -1);
}

static void parse_error__answers__type_and_message(void **state)
{
    (void)state;
    char type[128], msg[256];
    const char *a = "{\"__type\":\"com.amazonaws.kinesis#ResourceNotFoundException\","
                    "\"message\":\"Stream s under account 1 not found.\"}";
    pp_kinesis_parse_error(a, strlen(a), 400, type, sizeof(type), msg, sizeof(msg));
    assert_string_equal(type, "ResourceNotFoundException");
    assert_string_equal(msg, "Stream s under account 1 not found.");
    const char *b = "{\"__type\":\"AccessDeniedException\",\"Message\":\"no\"}";
    pp_kinesis_parse_error(b, strlen(b), 400, type, sizeof(type), msg, sizeof(msg));
    assert_string_equal(type, "AccessDeniedException");
    assert_string_equal(msg, "no");
    pp_kinesis_parse_error("<html>", 6, 502, type, sizeof(type), msg, sizeof(msg));
    assert_string_equal(type, "HTTP 502");
    assert_string_equal(msg, "");
    pp_kinesis_parse_error(NULL, 0, 500, type, sizeof(type), msg, sizeof(msg));
    assert_string_equal(type, "HTTP 500");
}

static void list_shards__pages__ids_and_token(void **state)
{
    (void)state;
    char **ids = NULL, *token = NULL, err[256];
    size_t n = 0;
    const char *p1 = "{\"Shards\":[{\"ShardId\":\"shardId-000000000000\",\"HashKeyRange\":{}},"
                     "{\"ShardId\":\"shardId-000000000001\"}],\"NextToken\":\"AAAA==\"}";
    assert_int_equal(
        pp_kinesis_parse_list_shards(p1, strlen(p1), &ids, &n, &token, err, sizeof(err)), 0);
    assert_int_equal(n, 2);
    assert_string_equal(token, "AAAA==");
    free(token);
    const char *p2 = "{\"Shards\":[{\"ShardId\":\"shardId-000000000002\"}],\"NextToken\":null}";
    assert_int_equal(
        pp_kinesis_parse_list_shards(p2, strlen(p2), &ids, &n, &token, err, sizeof(err)), 0);
    assert_int_equal(n, 3);
    assert_null(token); /* the last page */
    assert_string_equal(ids[0], "shardId-000000000000");
    assert_string_equal(ids[2], "shardId-000000000002");
    const char *bad[] = {"{}", "{\"Shards\":{}}", "{\"Shards\":[{\"ShardId\":7}]}", "[", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(pp_kinesis_parse_list_shards(bad[i], strlen(bad[i]), &ids, &n, &token, err,
                                                      sizeof(err)),
                         -1);
        assert_non_null(strstr(err, "ListShards answer"));
        assert_null(token);
    }
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

static void shard_iterator__answers__iterator_none_or_error(void **state)
{
    (void)state;
    char *it = NULL, err[256];
    const char *a = "{\"ShardIterator\":\"AAAAAAAAAAF+it\"}";
    assert_int_equal(pp_kinesis_parse_shard_iterator(a, strlen(a), &it, err, sizeof(err)), 0);
    assert_string_equal(it, "AAAAAAAAAAF+it");
    free(it);
    const char *closed = "{\"ShardIterator\":null}";
    assert_int_equal(pp_kinesis_parse_shard_iterator(closed, strlen(closed), &it, err, sizeof(err)),
                     0);
    assert_null(it);
    const char *bad = "{\"Iterator\":\"x\"}";
    assert_int_equal(pp_kinesis_parse_shard_iterator(bad, strlen(bad), &it, err, sizeof(err)), -1);
    assert_null(it);
    assert_non_null(strstr(err, "without a ShardIterator"));
}

static void get_records__answer__records_decoded(void **state)
{
    (void)state;
    pp_kinesis_got g = {0};
    char err[256];
    const char *a =
        "{\"Records\":[{\"SequenceNumber\":\"4959\",\"ApproximateArrivalTimestamp\":1.7e9,"
        "\"Data\":\"eyJrIjoxfQ==\",\"PartitionKey\":\"7:1:inst\"},"
        "{\"SequenceNumber\":\"4960\",\"ApproximateArrivalTimestamp\":1700000000.123,"
        "\"Data\":\"\",\"PartitionKey\":\"7:2:in\\u00e9\",\"EncryptionType\":\"NONE\"}],"
        "\"NextShardIterator\":\"next\",\"MillisBehindLatest\":2500}";
    assert_int_equal(pp_kinesis_parse_get_records(a, strlen(a), &g, err, sizeof(err)), 0);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.records[0].partition_key_len, 8);
    assert_memory_equal(g.records[0].partition_key, "7:1:inst", 8);
    assert_int_equal(g.records[0].data_len, 7);
    assert_memory_equal(g.data.data + g.records[0].data_off, "{\"k\":1}", 7);
    assert_string_equal(g.records[0].sequence, "4959");
    assert_true(g.records[0].arrival_ms == 1700000000000LL);
    assert_true(g.records[1].arrival_ms == 1700000000123LL);
    assert_int_equal(g.records[1].data_len, 0);
    assert_string_equal(g.records[1].partition_key, "7:2:in\xc3\xa9");
    assert_string_equal(g.next_iterator, "next");
    assert_true(g.millis_behind == 2500);

    /* A closed shard read to its end; no MillisBehindLatest reads as caught up. */
    const char *end = "{\"Records\":[],\"NextShardIterator\":null,\"ChildShards\":[]}";
    assert_int_equal(pp_kinesis_parse_get_records(end, strlen(end), &g, err, sizeof(err)), 0);
    assert_int_equal(g.n, 0);
    assert_null(g.next_iterator);
    assert_true(g.millis_behind == 0);

    /* Absurd numbers are not cast (undefined behaviour): unknown arrival. */
    const char *odd = "{\"Records\":[{\"SequenceNumber\":\"1\",\"Data\":\"Zg==\",\"PartitionKey\":"
                      "\"k\",\"ApproximateArrivalTimestamp\":1e300}],\"MillisBehindLatest\":-5}";
    assert_int_equal(pp_kinesis_parse_get_records(odd, strlen(odd), &g, err, sizeof(err)), 0);
    assert_true(g.records[0].arrival_ms == -1);
    assert_true(g.millis_behind == 0);
    pp_kinesis_got_free(&g);
}

static void get_records__malformed__error_names_the_record(void **state)
{
    (void)state;
    static const struct {
        const char *answer, *error;
    } cases[] = {
        {"{}", "without a Records list"},
        {"nonsense", "without a Records list"},
        {"{\"Records\":[],\"NextShardIterator\":5}", "NextShardIterator is not a string"},
        {"{\"Records\":[{\"SequenceNumber\":\"1\",\"Data\":\"Zg==\"}]}",
         "record 0 lacks its PartitionKey"},
        {"{\"Records\":[{\"SequenceNumber\":\"1\",\"Data\":\"Zg==\",\"PartitionKey\":\"k\"},"
         "{\"SequenceNumber\":\"2\",\"Data\":\"Z!==\",\"PartitionKey\":\"k\"}]}",
         "the Data of record 1 (sequence number 2) is not base64"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        pp_kinesis_got g = {0};
        char err[256] = "";
        assert_int_equal(pp_kinesis_parse_get_records(cases[i].answer, strlen(cases[i].answer), &g,
                                                      err, sizeof(err)),
                         -1);
        if (!strstr(err, cases[i].error))
            fail_msg("%s: error '%s' lacks '%s'", cases[i].answer, err, cases[i].error);
        pp_kinesis_got_free(&g);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(base64_decode__table__bytes_or_refused),
        cmocka_unit_test(shard_number__ids__number),
        cmocka_unit_test(parse_error__answers__type_and_message),
        cmocka_unit_test(list_shards__pages__ids_and_token),
        cmocka_unit_test(shard_iterator__answers__iterator_none_or_error),
        cmocka_unit_test(get_records__answer__records_decoded),
        cmocka_unit_test(get_records__malformed__error_names_the_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
