/* gen: deterministic synthetic pin/geo/user rows, as SQL or JSON. */
#include "pp_json.h"
#include "pp_gen.h"
#include "pp_rng.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum ftype { F_INT, F_FLOAT, F_STR, F_DATETIME };

typedef struct field {
    const char *name;
    enum ftype type;
    int64_t i;
    float f;
    const char *s;
    pp_datetime dt;
} field;

#define MAXF 12
#define TEXT_SIZE 2048

typedef struct row {
    field f[MAXF];
    int n;
    char text[TEXT_SIZE]; /* storage for generated strings */
    size_t used;
} row;

static const char *const categories[] = {
    "art",      "beauty",         "christmas",    "diy-and-crafts", "education",   "event-planning",
    "finance",  "home-decor",     "mens-fashion", "quotes",         "tattoos",     "travel",
    "vehicles", "food-and-drink", "gardening",    "fitness",        "photography", "weddings"};
static const char *const countries[] = {"Albania",
                                        "Algeria",
                                        "Angola",
                                        "Argentina",
                                        "Armenia",
                                        "Australia",
                                        "Bangladesh",
                                        "Brazil",
                                        "Bulgaria",
                                        "Canada",
                                        "Chile",
                                        "China",
                                        "Colombia",
                                        "Côte d'Ivoire",
                                        "Denmark",
                                        "Egypt",
                                        "France",
                                        "Germany",
                                        "Ghana",
                                        "Iceland",
                                        "India",
                                        "Japan",
                                        "Kenya",
                                        "México",
                                        "Norway",
                                        "Peru",
                                        "Poland",
                                        "Réunion",
                                        "São Tomé and Príncipe",
                                        "Türkiye",
                                        "Ukraine",
                                        "United Kingdom",
                                        "United States of America",
                                        "Viet Nam",
                                        "Åland Islands",
                                        "Zimbabwe"};
static const char *const first_names[] = {
    "Abigail",     "Aaron",    "Alexandra", "Andrew",    "Bethany",  "Brian",     "Chloé",
    "Christopher", "Daniel",   "Dylan",     "Elizabeth", "Emily",    "Francisco", "Gabriel",
    "Hannah",      "Ivan",     "Jessica",   "José",      "Kimberly", "Liam",      "María",
    "Michael",     "Nathan",   "Olivia",    "Patrick",   "Rachel",   "Søren",     "Stephanie",
    "Thomas",      "Victoria", "William",   "Zoë"};
static const char *const last_names[] = {
    "Ali",     "Anderson", "Bailey", "Brown",  "Campbell", "Clark",   "Davis",    "Evans",
    "Fischer", "García",   "Green",  "Hall",   "Harris",   "Jackson", "Johnson",  "Kim",
    "Lee",     "Martin",   "Müller", "Nguyen", "O'Brien",  "Parker",  "Robinson", "Smith",
    "Taylor",  "Thompson", "Walker", "White",  "Wilson",   "Wright",  "Young",    "Øvergaard"};
static const char *const words[] = {
    "easy",    "modern",      "cozy",    "vintage",     "simple",   "beautiful", "ideas", "tips",
    "guide",   "inspiration", "home",    "style",       "weekend",  "budget",    "small", "living",
    "room",    "summer",      "winter",  "autumn",      "spring",   "gift",      "party", "design",
    "colour",  "minimal",     "rustic",  "DIY",         "handmade", "best",      "quick", "healthy",
    "classic", "outfit",      "tattoo",  "quote",       "road",     "trip",      "cake",  "garden",
    "café",    "naïve",       "fiancée", "smörgåsbord", "日本",     "красивый",  "🎄",     "✨",
    "🚗",       "❤️"};
static const char *const posters[] = {
    "Bored Panda",    "Architectural Digest", "The Spruce",       "Better Homes and Gardens",
    "Tattoo Ideas",   "Mens Fashion Daily",   "Travel + Leisure", "Quotes Hub",
    "Crafty Morning", "Poppy & Co.",          "Lúcia Designs",    "Ann's Kitchen"};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *pick(pp_rng *r, const char *const *list, size_t n)
{
    return list[pp_rng_below(r, n)];
}

/* Hash of (seed, salt, key) in [0, 1): decides gaps and missing rows independently of
 * the row contents. */
static double coin(uint64_t seed, uint64_t salt, int64_t key)
{
    pp_rng r;
    pp_rng_seed(&r, seed ^ (salt * 0x9E3779B97F4A7C15ull), (uint64_t)key);
    return pp_rng_unit(&r);
}

int pp_gen_has(const pp_gen_opts *o, enum pp_table t, int64_t key)
{
    if (key < 1 || (uint64_t)key > o->posts)
        return 0;
    if (o->gap_frac > 0 && coin(o->seed, 101, key) < o->gap_frac)
        return 0;
    if (o->missing_frac[t] > 0 && coin(o->seed, 200 + (uint64_t)t, key) < o->missing_frac[t])
        return 0;
    return 1;
}

/* printf into the row's text storage; the result stays valid while rw lives. */
static const char *textf(row *rw, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static const char *textf(row *rw, const char *fmt, ...)
{
    va_list ap;
    char *p = rw->text + rw->used;
    size_t room = TEXT_SIZE - rw->used;
    va_start(ap, fmt);
    int n = vsnprintf(p, room, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= room)
        n = (int)room - 1;
    rw->used += (size_t)n + 1;
    return p;
}

static const char *words_text(row *rw, pp_rng *r, int min, int max, const char *sep)
{
    int n = min + (int)pp_rng_below(r, (uint64_t)(max - min + 1));
    char *start = rw->text + rw->used;
    size_t len = 0, room = TEXT_SIZE - rw->used;
    for (int i = 0; i < n; i++) {
        const char *w = pick(r, words, COUNT(words));
        int k = snprintf(start + len, room - len, "%s%s", i ? sep : "", w);
        if (k < 0 || (size_t)k >= room - len)
            break;
        len += (size_t)k;
    }
    if (len)
        start[0] = (char)(start[0] >= 'a' && start[0] <= 'z' ? start[0] - 32 : start[0]);
    rw->used += len + 1;
    return start;
}

static void add(row *rw, field f)
{
    rw->f[rw->n++] = f;
}

/* Days since 1970-01-01 to civil date (proleptic Gregorian). */
static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static pp_datetime random_datetime(pp_rng *r, int64_t from_epoch, int64_t to_epoch)
{
    pp_datetime dt = {0};
    int64_t t = from_epoch + (int64_t)pp_rng_below(r, (uint64_t)(to_epoch - from_epoch));
    civil_from_days(t / 86400, &dt.year, &dt.month, &dt.day);
    int64_t s = t % 86400;
    dt.hour = (int)(s / 3600);
    dt.minute = (int)(s / 60 % 60);
    dt.second = (int)(s % 60);
    return dt;
}

#define EPOCH_2015 1420070400
#define EPOCH_2018 1514764800
#define EPOCH_2023 1672531200

static void build_row(const pp_gen_opts *o, enum pp_table t, int64_t key, row *rw)
{
    pp_rng r;
    pp_rng_seed(&r, o->seed, (uint64_t)key * 4 + (uint64_t)t);
    rw->n = 0;
    rw->used = 0;

    if (t == PP_PIN) {
        const char *cat = pick(&r, categories, COUNT(categories));
        int story = pp_rng_unit(&r) < 0.04; /* "story format" posts carry placeholders */
        uint64_t u[2] = {pp_rng_next(&r), pp_rng_next(&r)};
        const char *uuid = textf(rw, "%08x-%04x-4%03x-%04x-%012llx", (unsigned)(u[0] >> 32),
                                 (unsigned)(u[0] >> 16) & 0xFFFF, (unsigned)u[0] & 0xFFF,
                                 (unsigned)(0x8000 | ((u[1] >> 48) & 0x3FFF)),
                                 (unsigned long long)(u[1] & 0xFFFFFFFFFFFFull));
        const char *followers;
        double fc = pp_rng_unit(&r);
        if (fc < 0.03)
            followers = "User Info Error";
        else if (fc < 0.08)
            followers = "0";
        else if (fc < 0.40)
            followers = textf(rw, "%d", (int)pp_rng_below(&r, 1000));
        else if (fc < 0.90)
            followers = textf(rw, "%dk", 1 + (int)pp_rng_below(&r, 999));
        else
            followers = textf(rw, "%dM", 1 + (int)pp_rng_below(&r, 9));
        const char *kind =
            story ? "multi-video(story page format)" : (pp_rng_unit(&r) < 0.85 ? "image" : "video");
        add(rw, (field){.name = "index", .type = F_INT, .i = key});
        add(rw, (field){.name = "unique_id", .type = F_STR, .s = uuid});
        add(rw, (field){.name = "title",
                        .type = F_STR,
                        .s = story ? "No Title Data Available" : words_text(rw, &r, 2, 8, " ")});
        add(rw, (field){.name = "description",
                        .type = F_STR,
                        .s = story ? "No description available Story format"
                                   : words_text(rw, &r, 6, 40, " ")});
        add(rw, (field){.name = "poster_name",
                        .type = F_STR,
                        .s = pp_rng_unit(&r) < 0.02 ? "User Info Error"
                                                    : pick(&r, posters, COUNT(posters))});
        add(rw, (field){.name = "follower_count", .type = F_STR, .s = followers});
        add(rw, (field){.name = "tag_list",
                        .type = F_STR,
                        .s = story ? "N,o, ,T,a,g,s, ,A,v,a,i,l,a,b,l,e"
                                   : words_text(rw, &r, 1, 10, ",")});
        add(rw, (field){.name = "is_image_or_video", .type = F_STR, .s = kind});
        add(rw,
            (field){
                .name = "image_src",
                .type = F_STR,
                .s = story ? "Image src error."
                           : textf(rw, "https://i.pinimg.com/originals/%02x/%02x/%02x/%016llx.jpg",
                                   (unsigned)pp_rng_below(&r, 256), (unsigned)pp_rng_below(&r, 256),
                                   (unsigned)pp_rng_below(&r, 256),
                                   (unsigned long long)pp_rng_next(&r))});
        add(rw, (field){.name = "downloaded", .type = F_INT, .i = story ? 0 : 1});
        add(rw, (field){.name = "save_location",
                        .type = F_STR,
                        .s = textf(rw, "Local save in /data/%s", cat)});
        add(rw, (field){.name = "category", .type = F_STR, .s = cat});
    } else if (t == PP_GEO) {
        double lat = round((pp_rng_unit(&r) * 180.0 - 90.0) * 1e4) / 1e4;
        double lon = round((pp_rng_unit(&r) * 360.0 - 180.0) * 1e4) / 1e4;
        add(rw, (field){.name = "ind", .type = F_INT, .i = key});
        add(rw, (field){.name = "timestamp",
                        .type = F_DATETIME,
                        .dt = random_datetime(&r, EPOCH_2015, EPOCH_2023)});
        add(rw, (field){.name = "latitude", .type = F_FLOAT, .f = (float)lat});
        add(rw, (field){.name = "longitude", .type = F_FLOAT, .f = (float)lon});
        add(rw,
            (field){.name = "country", .type = F_STR, .s = pick(&r, countries, COUNT(countries))});
    } else {
        add(rw, (field){.name = "ind", .type = F_INT, .i = key});
        add(rw, (field){.name = "first_name",
                        .type = F_STR,
                        .s = pick(&r, first_names, COUNT(first_names))});
        add(rw, (field){.name = "last_name",
                        .type = F_STR,
                        .s = pick(&r, last_names, COUNT(last_names))});
        add(rw, (field){.name = "age", .type = F_INT, .i = 20 + (int64_t)pp_rng_below(&r, 51)});
        add(rw, (field){.name = "date_joined",
                        .type = F_DATETIME,
                        .dt = random_datetime(&r, EPOCH_2015, EPOCH_2018)});
    }
}

void pp_gen_row_json(const pp_gen_opts *o, enum pp_table t, int64_t key, pp_buf *out)
{
    row rw;
    build_row(o, t, key, &rw);
    pp_json_obj_begin(out);
    for (int i = 0; i < rw.n; i++) {
        const field *f = &rw.f[i];
        pp_json_key(out, f->name);
        switch (f->type) {
        case F_INT: pp_json_int(out, f->i); break;
        case F_FLOAT: pp_json_float(out, f->f); break;
        case F_STR: pp_json_cstring(out, f->s); break;
        case F_DATETIME: pp_json_datetime(out, &f->dt); break;
        }
    }
    pp_json_obj_end(out);
}

static void sql_string(pp_buf *out, const char *s)
{
    pp_buf_append(out, "'", 1);
    for (; *s; s++) {
        switch (*s) {
        case '\'': pp_buf_append(out, "\\'", 2); break;
        case '\\': pp_buf_append(out, "\\\\", 2); break;
        case '\n': pp_buf_append(out, "\\n", 2); break;
        case '\r': pp_buf_append(out, "\\r", 2); break;
        default: pp_buf_append(out, s, 1);
        }
    }
    pp_buf_append(out, "'", 1);
}

void pp_gen_row_sql(const pp_gen_opts *o, enum pp_table t, int64_t key, pp_buf *out)
{
    row rw;
    char tmp[32];
    build_row(o, t, key, &rw);
    pp_buf_append(out, "(", 1);
    for (int i = 0; i < rw.n; i++) {
        const field *f = &rw.f[i];
        if (i)
            pp_buf_append(out, ",", 1);
        switch (f->type) {
        case F_INT: pp_buf_printf(out, "%lld", (long long)f->i); break;
        case F_FLOAT:
            pp_json_format_float(tmp, f->f);
            pp_buf_puts(out, tmp);
            break;
        case F_STR: sql_string(out, f->s); break;
        case F_DATETIME:
            pp_buf_printf(out, "'%04d-%02d-%02d %02d:%02d:%02d'", f->dt.year, f->dt.month,
                          f->dt.day, f->dt.hour, f->dt.minute, f->dt.second);
            break;
        }
    }
    pp_buf_append(out, ")", 1);
}

const char *pp_gen_schema(enum pp_table t)
{
    static const char *const schema[PP_NTABLES] = {
        "CREATE TABLE pinterest_data (\n"
        "  `index` INT NOT NULL PRIMARY KEY,\n"
        "  unique_id VARCHAR(36) NOT NULL,\n"
        "  title TEXT,\n"
        "  description TEXT,\n"
        "  poster_name TEXT,\n"
        "  follower_count VARCHAR(32),\n"
        "  tag_list TEXT,\n"
        "  is_image_or_video VARCHAR(64),\n"
        "  image_src TEXT,\n"
        "  downloaded INT,\n"
        "  save_location TEXT,\n"
        "  category VARCHAR(64)\n"
        ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        "CREATE TABLE geolocation_data (\n"
        "  ind INT NOT NULL PRIMARY KEY,\n"
        "  `timestamp` DATETIME,\n"
        "  latitude FLOAT,\n"
        "  longitude FLOAT,\n"
        "  country VARCHAR(64)\n"
        ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        "CREATE TABLE user_data (\n"
        "  ind INT NOT NULL PRIMARY KEY,\n"
        "  first_name VARCHAR(64),\n"
        "  last_name VARCHAR(64),\n"
        "  age INT,\n"
        "  date_joined DATETIME\n"
        ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    };
    return schema[t];
}
