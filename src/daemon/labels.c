/* labels: the category and country of the posts whose foreground line is pending. */
#include "pp_labels.h"
#include "pp_util.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Posts in flight are few while the per-post line is on (a few posts a second): a fixed
 * number of chains is plenty. */
#define NCHAINS 256

typedef struct entry {
    uint64_t seq;
    pp_post_labels labels;
    struct entry *next;
} entry;

struct pp_labels {
    entry *chain[NCHAINS];
};

pp_labels *pp_labels_new(void)
{
    return pp_xcalloc(1, sizeof(pp_labels));
}

void pp_labels_destroy(pp_labels *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < NCHAINS; i++)
        for (entry *e = l->chain[i], *next; e; e = next) {
            next = e->next;
            free(e);
        }
    free(l);
}

void pp_labels_field(const char *json, size_t len, const char *name, char *out, size_t out_size)
{
    out[0] = '\0';
    cJSON *o = json && len ? cJSON_ParseWithLength(json, len) : NULL;
    const cJSON *v = NULL;
    if (cJSON_IsObject(o))
        for (const cJSON *m = o->child; m && !v; m = m->next)
            if (m->string && !strcasecmp(m->string, name))
                v = m;
    if (cJSON_IsString(v)) {
        snprintf(out, out_size, "%s", v->valuestring);
    } else if (v && !cJSON_IsNull(v)) {
        char *text = cJSON_PrintUnformatted(v);
        if (text)
            snprintf(out, out_size, "%s", text);
        cJSON_free(text);
    }
    cJSON_Delete(o);
}

void pp_labels_put(pp_labels *l, uint64_t seq, const pp_post *p)
{
    entry *e = pp_xcalloc(1, sizeof(*e));
    e->seq = seq;
    pp_labels_field(p->value[PP_PIN].data, p->value[PP_PIN].len, "category", e->labels.category,
                    sizeof(e->labels.category));
    pp_labels_field(p->value[PP_GEO].data, p->value[PP_GEO].len, "country", e->labels.country,
                    sizeof(e->labels.country));
    entry **head = &l->chain[seq % NCHAINS];
    e->next = *head;
    *head = e;
}

int pp_labels_take(pp_labels *l, uint64_t seq, pp_post_labels *out)
{
    for (entry **pp = &l->chain[seq % NCHAINS]; *pp; pp = &(*pp)->next) {
        if ((*pp)->seq != seq)
            continue;
        entry *e = *pp;
        *pp = e->next;
        *out = e->labels;
        free(e);
        return 1;
    }
    return 0;
}
