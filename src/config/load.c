/* load: the parser of the load's shape: the compact stage text, durations, times of day
 * and zones of the daily curve. */
#include "pp_load.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pp_util.h"

/* The limits keep the pacer's arithmetic far inside a double and a 64-bit count of
 * microseconds: at least 0.001 posts/s and at most 10^12 s, as emulation.rate and
 * emulation.duration. */
#define RATE_MIN 0.001
#define RATE_MAX 1e9
#define DELAY_MAX 86400.0
#define DURATION_MIN 0.001 /* below a millisecond a stage rounds to nothing */
#define DURATION_MAX 1e12
#define ITEM_MAX 128 /* longer than any valid item */
#define OFFSET_MAX (18 * 3600)

#define FORM_RATE "RATE/s:DURATION"
#define FORM_RAMP "ramp FROM-TO/s:DURATION"
#define FORM_PAUSE "pause:DURATION"
#define FORM_DELAY "delay MIN-MAX:DURATION"
#define FORM_DIURNAL "diurnal:DURATION"
#define FORMS                                                                                      \
    FORM_RATE ", " FORM_RAMP ", " FORM_PAUSE ", " FORM_DELAY ", " FORM_DIURNAL ", or repeat (last)"
#define DURATION_WORDS "a number with a unit (500ms, 30s, 5m, 2h, 1d) or of seconds"

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

int pp_load_parse_duration(const char *text, double *out_s, char *err, size_t n)
{
    char q[48], num[64];
    static const struct {
        const char *unit;
        double seconds;
    } units[] = {{"", 1}, {"ms", 0.001}, {"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}};

    if (!text || !*text)
        return pp_errf(err, n, "empty duration; write " DURATION_WORDS), -1;
    size_t len = strlen(text), end = len;
    while (end > 0 && ((text[end - 1] >= 'a' && text[end - 1] <= 'z') ||
                       (text[end - 1] >= 'A' && text[end - 1] <= 'Z')))
        end--;
    const char *unit = text + end;
    double mult = 0, v;
    if (end == 0 || end >= sizeof(num))
        goto not_a_number;
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
        if (!strcmp(unit, units[i].unit))
            mult = units[i].seconds;
    if (!mult)
        return pp_errf(err, n, "'%s' is not a duration: unknown unit; write " DURATION_WORDS,
                       pp_quote_arg(text, 0, q, sizeof(q))),
               -1;
    memcpy(num, text, end);
    num[end] = '\0';
    if (pp_parse_double(num, &v))
        goto not_a_number;
    v *= mult;
    if (!(v >= DURATION_MIN && v <= DURATION_MAX))
        return pp_errf(err, n, "'%s' is out of range: a duration is from 1ms to 1e12s",
                       pp_quote_arg(text, 0, q, sizeof(q))),
               -1;
    *out_s = v;
    return 0;
not_a_number:
    return pp_errf(err, n, "'%s' is not a duration; write " DURATION_WORDS,
                   pp_quote_arg(text, 0, q, sizeof(q))),
           -1;
}

/* "FROM-TO" into two numbers: the separator is the first '-' that is neither a leading sign
 * nor an exponent's sign ("1e-3-2"), so a negative FROM reads as a number and fails the
 * range check instead of splitting oddly. Returns 0 or -1 (not two numbers). */
static int parse_pair(const char *text, double *a, double *b)
{
    char left[64];
    const char *sep = NULL;
    for (const char *p = text + (*text == '-' || *text == '+'); *p; p++)
        if (*p == '-' && p[-1] != 'e' && p[-1] != 'E') {
            sep = p;
            break;
        }
    if (!sep || (size_t)(sep - text) >= sizeof(left))
        return -1;
    memcpy(left, text, (size_t)(sep - text));
    left[sep - text] = '\0';
    return pp_parse_double(left, a) || pp_parse_double(sep + 1, b) ? -1 : 0;
}

/* Strip a "/s" suffix from spec in place; 0, or -1 when it has none. */
static int strip_per_second(char *spec)
{
    size_t len = strlen(spec);
    if (len < 2 || strcmp(spec + len - 2, "/s"))
        return -1;
    spec[len - 2] = '\0';
    return 0;
}

/* One item (blanks around it already removed) into *s; *repeat set for "repeat". why gets
 * the reason and *form the syntax to suggest. */
static int parse_item(char *item, pp_stage *s, int *repeat, char *why, size_t wn, const char **form)
{
    *repeat = 0;
    *form = FORMS;
    if (!*item)
        return pp_errf(why, wn, "empty item (two commas, or one at an end?)"), -1;
    if (!strcmp(item, "repeat")) {
        *repeat = 1;
        return 0;
    }
    char *colon = strchr(item, ':');
    size_t word = 0;
    while ((item[word] >= 'a' && item[word] <= 'z') || (item[word] >= 'A' && item[word] <= 'Z'))
        word++;
    char *head = item, *spec = NULL;
    memset(s, 0, sizeof(*s));
    if (word) {
        if (word == 4 && !strncmp(item, "ramp", 4)) {
            s->kind = PP_STAGE_RAMP;
            *form = FORM_RAMP;
        } else if (word == 5 && !strncmp(item, "delay", 5)) {
            s->kind = PP_STAGE_DELAY;
            *form = FORM_DELAY;
        } else if (word == 5 && !strncmp(item, "pause", 5)) {
            s->kind = PP_STAGE_PAUSE;
            *form = FORM_PAUSE;
        } else if (word == 7 && !strncmp(item, "diurnal", 7)) {
            s->kind = PP_STAGE_DIURNAL;
            *form = FORM_DIURNAL;
        } else if (word == 6 && !strncmp(item, "repeat", 6)) {
            *form = "repeat";
            return pp_errf(why, wn, "repeat takes nothing and comes last"), -1;
        } else if (!((word == 3 &&
                      (!strncasecmp(item, "nan", 3) || !strncasecmp(item, "inf", 3))) ||
                     (word == 8 && !strncasecmp(item, "infinity", 8)))) {
            return pp_errf(why, wn, "unknown stage"), -1;
        } else {
            s->kind = PP_STAGE_RATE; /* "nan/s", "inf/s": refused as a number below */
            *form = FORM_RATE;
            word = 0;
        }
    } else {
        s->kind = PP_STAGE_RATE;
        *form = FORM_RATE;
    }
    if (!colon)
        return pp_errf(why, wn, "no ':DURATION'"), -1;
    *colon = '\0';
    const char *dur = colon + 1;
    if (s->kind == PP_STAGE_RAMP || s->kind == PP_STAGE_DELAY) {
        if (!is_blank(item[word]))
            return pp_errf(why, wn, "a blank must follow '%s'",
                           s->kind == PP_STAGE_RAMP ? "ramp" : "delay"),
                   -1;
        spec = item + word;
        while (is_blank(*spec))
            spec++;
    } else if (s->kind == PP_STAGE_PAUSE || s->kind == PP_STAGE_DIURNAL) {
        if (item[word])
            return pp_errf(why, wn, "nothing may come between '%.*s' and ':'", (int)word, item), -1;
    }

    switch (s->kind) {
    case PP_STAGE_RATE:
        if (strip_per_second(head))
            return pp_errf(why, wn, "the rate has no unit '/s'"), -1;
        if (pp_parse_double(head, &s->from))
            return pp_errf(why, wn, "the rate is not a number"), -1;
        if (!(s->from == 0 || (s->from >= RATE_MIN && s->from <= RATE_MAX)))
            return pp_errf(
                       why, wn,
                       "the rate is out of range: 0.001 to 1e9 posts/s, or 0 (as fast as possible)"),
                   -1;
        break;
    case PP_STAGE_RAMP:
        if (strip_per_second(spec))
            return pp_errf(why, wn, "the rates have no unit '/s'"), -1;
        if (parse_pair(spec, &s->from, &s->to))
            return pp_errf(why, wn, "FROM-TO is not two numbers"), -1;
        if (!(s->from >= 0 && s->from <= RATE_MAX && s->to >= 0 && s->to <= RATE_MAX))
            return pp_errf(why, wn, "a rate is out of range: 0 to 1e9 posts/s"), -1;
        if (s->from == 0 && s->to == 0)
            return pp_errf(why, wn, "a ramp from 0 to 0 sends nothing (use pause)"), -1;
        break;
    case PP_STAGE_DELAY:
        if (parse_pair(spec, &s->from, &s->to))
            return pp_errf(why, wn, "MIN-MAX is not two numbers of seconds"), -1;
        if (!(s->from >= 0 && s->from <= DELAY_MAX && s->to >= 0 && s->to <= DELAY_MAX))
            return pp_errf(why, wn, "a delay is out of range: 0 to 86400 seconds"), -1;
        if (s->from > s->to)
            return pp_errf(why, wn, "MIN is greater than MAX"), -1;
        break;
    default: break;
    }

    if (!strcmp(dur, "forever")) {
        if (s->kind == PP_STAGE_RAMP)
            return pp_errf(why, wn, "a ramp needs a finite duration to go from FROM to TO"), -1;
        s->duration_s = INFINITY;
        return 0;
    }
    char dwhy[200];
    if (pp_load_parse_duration(dur, &s->duration_s, dwhy, sizeof(dwhy)))
        return pp_errf(why, wn, "%s (or forever, for the last stage)", dwhy), -1;
    return 0;
}

int pp_load_parse_stages(const char *text, pp_load *load, char *err, size_t n)
{
    pp_stage parsed[PP_STAGES_MAX];
    size_t count = 0, item_no = 0;
    int repeat = 0;
    char q[48], why[256];

    if (!text)
        text = "";
    const char *p = text;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        item_no++;
        char item[ITEM_MAX];
        /* The item as written, for the message (quoted: it came from outside). */
        const char *b = p, *e = p + len;
        while (b < e && is_blank(*b))
            b++;
        while (e > b && is_blank(e[-1]))
            e--;
        size_t ilen = (size_t)(e - b);
        if (ilen >= sizeof(item)) {
            memcpy(item, b, sizeof(item) - 1);
            item[sizeof(item) - 1] = '\0';
            return pp_errf(err, n, "item %zu '%s': too long; write " FORMS, item_no,
                           pp_quote_arg(item, 0, q, sizeof(q))),
                   -1;
        }
        memcpy(item, b, ilen);
        item[ilen] = '\0';
        char shown[48];
        pp_quote_arg(item, 0, shown, sizeof(shown));

        if (!*item && !comma && item_no == 1)
            return pp_errf(err, n, "no stages; write items such as 100/s:30s,ramp 100-5000/s:5m"),
                   -1;
        if (repeat)
            return pp_errf(err, n, "item %zu '%s': follows repeat, which must be the last item",
                           item_no, shown),
                   -1;
        pp_stage st;
        int is_repeat;
        const char *form;
        if (parse_item(item, &st, &is_repeat, why, sizeof(why), &form))
            return pp_errf(err, n, "item %zu '%s': %s; write %s", item_no, shown, why, form), -1;
        /* What the list already holds (an earlier string of a list of strings) counts too. */
        const pp_stage *last = count           ? &parsed[count - 1]
                               : load->nstages ? &load->stage[load->nstages - 1]
                                               : NULL;
        if (load->repeat)
            return pp_errf(err, n, "item %zu '%s': follows repeat, which must be the last item",
                           item_no, shown),
                   -1;
        if (last && isinf(last->duration_s))
            return pp_errf(
                       err, n,
                       is_repeat
                           ? "item %zu '%s': a list whose stage lasts forever never repeats; drop repeat or give that stage a duration"
                           : "item %zu '%s': follows a stage that lasts forever; only the last stage may",
                       item_no, shown),
                   -1;
        if (is_repeat) {
            if (!last)
                return pp_errf(err, n, "item %zu 'repeat': there are no stages to repeat", item_no),
                       -1;
            repeat = 1;
        } else {
            if (load->nstages + count >= PP_STAGES_MAX)
                return pp_errf(err, n, "item %zu '%s': more than %d stages", item_no, shown,
                               PP_STAGES_MAX),
                       -1;
            parsed[count++] = st;
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    memcpy(load->stage + load->nstages, parsed, count * sizeof(parsed[0]));
    load->nstages += count;
    if (repeat)
        load->repeat = 1;
    return 0;
}

/* The shortest decimal that reads back as exactly v, so that describe and parse round-trip
 * without printing 0.10000000000000001; whole numbers below 10^7 without an exponent
 * (5000, not 5e+03). */
static void shortest(double v, char *out, size_t n)
{
    int prec = 1;
    for (; prec < 17; prec++) {
        snprintf(out, n, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            break;
    }
    int whole = 0;
    for (double a = fabs(v); a >= 1 && whole < 8; a /= 10)
        whole++;
    snprintf(out, n, "%.*g", whole <= 7 && whole > prec ? whole : prec, v);
}

void pp_load_describe_stage(const pp_stage *s, char *out, size_t n)
{
    char a[32], b[32], d[40];
    if (isinf(s->duration_s))
        snprintf(d, sizeof(d), "forever");
    else {
        shortest(s->duration_s, a, sizeof(a));
        snprintf(d, sizeof(d), "%ss", a);
    }
    shortest(s->from, a, sizeof(a));
    shortest(s->to, b, sizeof(b));
    switch (s->kind) {
    case PP_STAGE_RATE: snprintf(out, n, "%s/s:%s", a, d); break;
    case PP_STAGE_RAMP: snprintf(out, n, "ramp %s-%s/s:%s", a, b, d); break;
    case PP_STAGE_PAUSE: snprintf(out, n, "pause:%s", d); break;
    case PP_STAGE_DELAY: snprintf(out, n, "delay %s-%s:%s", a, b, d); break;
    case PP_STAGE_DIURNAL: snprintf(out, n, "diurnal:%s", d); break;
    default: snprintf(out, n, "?"); break;
    }
}

/* n decimal digits exactly at *p (advanced), as a number; -1 if not digits. */
static int digits(const char **p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (**p < '0' || **p > '9')
            return -1;
        v = v * 10 + (**p - '0');
    }
    return v;
}

int pp_load_parse_time_of_day(const char *text, double *out_s, char *err, size_t n)
{
    char q[48];
    const char *p = text ? text : "";
    /* One or two digits of hours ("7:30" as "07:30"), then :MM and an optional :SS. */
    int h = (p[0] >= '0' && p[0] <= '9' && p[1] == ':') ? digits(&p, 1) : digits(&p, 2);
    int m = -1, sec = 0;
    if (h >= 0 && *p == ':') {
        p++;
        m = digits(&p, 2);
        if (m >= 0 && *p == ':') {
            p++;
            sec = digits(&p, 2);
        }
    }
    if (h < 0 || h > 23 || m < 0 || m > 59 || sec < 0 || sec > 59 || *p)
        return pp_errf(err, n,
                       "'%s' is not a time of day; write HH:MM or HH:MM:SS (00:00 to 23:59:59)",
                       pp_quote_arg(text ? text : "", 0, q, sizeof(q))),
               -1;
    *out_s = h * 3600.0 + m * 60.0 + sec;
    return 0;
}

int pp_load_parse_zone(const char *text, pp_diurnal *d, char *err, size_t n)
{
    char q[48];
    const char *s = text ? text : "";
    if (!strcasecmp(s, "UTC") || !strcasecmp(s, "Z") || !strcasecmp(s, "GMT")) {
        d->tz_local = 0;
        d->utc_offset_s = 0;
        return 0;
    }
    if (!strcasecmp(s, "local")) {
        d->tz_local = 1;
        d->utc_offset_s = 0;
        return 0;
    }
    const char *p = s;
    if (!strncasecmp(p, "GMT", 3) && (p[3] == '+' || p[3] == '-'))
        return pp_errf(
                   err, n,
                   "'%s' is ambiguous (as TZ, GMT+2 is two hours west of UTC); write UTC+2 or +02:00 for east of UTC",
                   pp_quote_arg(s, 0, q, sizeof(q))),
               -1;
    if (!strncasecmp(p, "UTC", 3))
        p += 3;
    if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1;
        int h = (p[0] >= '0' && p[0] <= '9' && !(p[1] >= '0' && p[1] <= '9')) ? digits(&p, 1)
                                                                              : digits(&p, 2);
        int m = 0;
        if (h >= 0 && *p == ':') {
            p++;
            m = digits(&p, 2);
        }
        if (h >= 0 && m >= 0 && m <= 59 && !*p && h * 3600 + m * 60 <= OFFSET_MAX) {
            d->tz_local = 0;
            d->utc_offset_s = sign * (h * 3600 + m * 60);
            return 0;
        }
        return pp_errf(
                   err, n,
                   "'%s' is not an offset from UTC; write +HH:MM or -HH:MM (at most 18:00), or UTC+H",
                   pp_quote_arg(s, 0, q, sizeof(q))),
               -1;
    }
    /* A name (Europe/Paris, CET): reading the zone database is the C library's job, through
     * TZ and localtime_r, which also follows its daylight saving time. */
    int name = *s != '\0';
    for (const char *c = s; *c; c++)
        if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || *c == '/' || *c == '_' ||
              *c == '-' || *c == '+' || (*c >= '0' && *c <= '9')))
            name = 0;
    pp_quote_arg(s, 0, q, sizeof(q));
    if (name)
        return pp_errf(
                   err, n,
                   "'%s' is a zone name, which is not read here; use tz: local with TZ=%s in the environment (daylight saving time included), or a fixed offset such as +01:00",
                   q, q),
               -1;
    return pp_errf(
               err, n,
               "'%s' is not a zone; write UTC, local (the host's zone, from TZ), or a fixed offset such as +05:30, -08:00 or UTC+2",
               q),
           -1;
}

int pp_load_equal(const pp_load *a, const pp_load *b)
{
    if (a->nstages != b->nstages || a->repeat != b->repeat || a->arrivals != b->arrivals)
        return 0;
    int diurnal = 0;
    for (size_t i = 0; i < a->nstages; i++) {
        const pp_stage *x = &a->stage[i], *y = &b->stage[i];
        if (x->kind != y->kind || x->from != y->from || x->to != y->to ||
            x->duration_s != y->duration_s)
            return 0;
        diurnal |= x->kind == PP_STAGE_DIURNAL;
    }
    const pp_diurnal *x = &a->diurnal, *y = &b->diurnal;
    return !diurnal || (x->peak == y->peak && x->trough == y->trough &&
                        x->peak_at_s == y->peak_at_s && x->tz_local == y->tz_local &&
                        x->utc_offset_s == y->utc_offset_s && x->day_length_s == y->day_length_s);
}

int pp_load_parse_arrivals(const char *text, pp_arrivals *out, char *err, size_t n)
{
    char q[48];
    if (!strcmp(text, "fixed"))
        *out = PP_ARRIVALS_FIXED;
    else if (!strcmp(text, "poisson"))
        *out = PP_ARRIVALS_POISSON;
    else
        return pp_errf(err, n, "'%s' is not fixed or poisson", pp_quote_arg(text, 0, q, sizeof(q))),
               -1;
    return 0;
}
