/* Unit tests of what pp_kafka says about librdkafka itself: the start-up warning for a
 * library without SASL re-authentication, and which of its log lines are transient. */
#include "unit.h"

#include "pp_kafka.h"

static void reauth_warning__before_2_2_0__once_with_advice(void **state)
{
    (void)state;
    char msg[768];
    /* Debian 12's 2.0.2, and the last release before KIP-368 support. */
    const int old[] = {0x020002ff, 0x020102ff};
    for (size_t i = 0; i < sizeof(old) / sizeof(old[0]); i++) {
        assert_int_equal(pp_kafka_reauth_warning(old[i], msg, sizeof(msg)), 1);
        assert_non_null(strstr(msg, "KIP-368"));
        assert_non_null(strstr(msg, "librdkafka 2.2.0 or newer"));
        assert_non_null(strstr(msg, "Disconnected"));
    }
    assert_int_equal(pp_kafka_reauth_warning(0x020002ff, msg, sizeof(msg)), 1);
    assert_non_null(strstr(msg, "librdkafka 2.0.2,"));
}

static void reauth_warning__2_2_0_and_later__nothing(void **state)
{
    (void)state;
    char msg[768] = "";
    /* 2.2.0, Debian 13's 2.8.0, a later major version. */
    const int recent[] = {0x020200ff, 0x020800ff, 0x030000ff};
    for (size_t i = 0; i < sizeof(recent) / sizeof(recent[0]); i++)
        assert_int_equal(pp_kafka_reauth_warning(recent[i], msg, sizeof(msg)), 0);
    assert_string_equal(msg, "");
}

static void log_transient__table(void **state)
{
    (void)state;
    static const struct {
        const char *fac, *line;
        int transient;
    } cases[] = {
        {"GETPID",
         "Failed to acquire idempotence PID from broker 127.0.0.1:9092/1: Broker: "
         "Coordinator load in progress: retrying",
         1},
        {"GETPID",
         "Failed to acquire transactional PID from broker b:9092/2: Broker: Coordinator not "
         "available: retrying",
         1},
        {"GETPID",
         "Failed to acquire transactional PID from broker b:9092/2: Broker: Not "
         "coordinator: retrying",
         1},
        /* A real error stays what librdkafka says it is. */
        {"GETPID",
         "Failed to acquire idempotence PID from broker b:9092/1: Broker: Cluster "
         "authorization failed: retrying",
         0},
        {"GETPID", "Failed to acquire PID: Broker: Coordinator load in progress", 0},
        {"FAIL", "b:9092/1: Coordinator load in progress: retrying", 0},
        {"GETPID", "", 0},
        {NULL, "x", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (pp_kafka_log_transient(cases[i].fac, cases[i].line) != cases[i].transient)
            fail_msg("case %zu (%s: %s): want %d", i, cases[i].fac ? cases[i].fac : "(null)",
                     cases[i].line, cases[i].transient);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reauth_warning__before_2_2_0__once_with_advice),
        cmocka_unit_test(reauth_warning__2_2_0_and_later__nothing),
        cmocka_unit_test(log_transient__table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
