/* Unit tests of the foreground line's labels: read from the rows' JSON (as MySQL names
 * columns, without regard to case), kept by sequence number until taken once. */
#include "unit.h"

#include "pp_labels.h"

static void field__table__value_or_empty(void **state)
{
    (void)state;
    static const struct {
        const char *json, *name, *want;
        size_t size;
    } cases[] = {
        {"{\"index\":1,\"category\":\"mens-fashion\"}", "category", "mens-fashion", 64},
        {"{\"Category\":\"art\"}", "category", "art", 64}, /* any case */
        {"{\"country\":\"C\\u00f4te d'Ivoire\"}", "country", "C\xc3\xb4te d'Ivoire", 64},
        {"{\"country\":\"A\\nB\\r\\u001b[2J\"}", "country", "A\nB\r\x1b[2J", 64}, /* raw */
        {"{\"category\":null}", "category", "", 64},
        {"{\"category\":7}", "category", "7", 64},
        {"{\"title\":\"x\"}", "category", "", 64},
        {"[\"category\"]", "category", "", 64},
        {"not json", "category", "", 64},
        {"", "category", "", 64},
        {"{\"category\":\"abcdefghij\"}", "category", "abcd", 5}, /* cut to fit */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[64] = "junk";
        pp_labels_field(cases[i].json, strlen(cases[i].json), cases[i].name, out, cases[i].size);
        assert_string_equal(out, cases[i].want);
    }
}

static pp_post post_of(const char *pin, const char *geo)
{
    pp_post p;
    memset(&p, 0, sizeof(p));
    pp_buf_puts(&p.value[PP_PIN], pin);
    pp_buf_puts(&p.value[PP_GEO], geo);
    pp_buf_puts(&p.value[PP_USER], "{\"ind\":1,\"first_name\":\"Abigail\"}");
    return p;
}

static void put_take__by_seq__once(void **state)
{
    (void)state;
    pp_labels *l = pp_labels_new();
    pp_post a = post_of("{\"index\":7528,\"category\":\"mens-fashion\"}",
                        "{\"ind\":7528,\"country\":\"Albania\"}");
    pp_post b = post_of("{\"index\":9}", "{\"ind\":9,\"country\":null}");
    pp_labels_put(l, 1, &a);
    pp_labels_put(l, 257, &b); /* the same chain as 1 */
    pp_labels_put(l, 2, &a);
    pp_post_labels got;
    assert_int_equal(pp_labels_take(l, 257, &got), 1);
    assert_string_equal(got.category, "");
    assert_string_equal(got.country, "");
    assert_int_equal(pp_labels_take(l, 1, &got), 1);
    assert_string_equal(got.category, "mens-fashion");
    assert_string_equal(got.country, "Albania");
    assert_int_equal(pp_labels_take(l, 1, &got), 0);
    assert_int_equal(pp_labels_take(l, 3, &got), 0);
    /* Seq 2 is still kept: destroy frees it. */
    pp_labels_destroy(l);
    pp_labels_destroy(NULL);
    pp_post_release(&a);
    pp_post_release(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(field__table__value_or_empty),
        cmocka_unit_test(put_take__by_seq__once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
