/* pp_labels: the display labels of the per-post foreground line, the pin row's "category"
 * and the geo row's "country", read from the rows' JSON when the post is produced and kept
 * by sequence number until the post's done report prints them. Nothing downstream of the
 * source carries them. */
#ifndef PP_LABELS_H
#define PP_LABELS_H

#include <stddef.h>
#include <stdint.h>

#include "pp_source.h"

typedef struct pp_post_labels {
    char category[64]; /* "" when the row has none */
    char country[64];
} pp_post_labels;

typedef struct pp_labels pp_labels;

pp_labels *pp_labels_new(void);
void pp_labels_destroy(pp_labels *l); /* accepts NULL */

/* Remember the labels of post p, produced under seq. */
void pp_labels_put(pp_labels *l, uint64_t seq, const pp_post *p);

/* Forget the labels of seq and copy them to out. Returns 1, or 0 when none were kept. */
int pp_labels_take(pp_labels *l, uint64_t seq, pp_post_labels *out);

/* The value of member `name` (matched as MySQL matches column names: without regard to
 * case) of the JSON object json[0..len) into out, cut to out_size - 1 bytes: a string as
 * it is, another non-null value as its JSON text, "" when absent, null or not an object. */
void pp_labels_field(const char *json, size_t len, const char *name, char *out, size_t out_size);

#endif
