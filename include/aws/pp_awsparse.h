/* pp_awsparse: parsers of the answers of AWS endpoints and of the shared files, kept
 * apart from the HTTP code so they can be fuzzed. Secrets they return are freed with
 * pp_secret_free (pp_secret.h) or pp_aws_creds_clear, which erase them first. */
#ifndef PP_AWSPARSE_H
#define PP_AWSPARSE_H

#include <stddef.h>

#include "pp_sigv4.h"

/* Parse an ISO 8601 UTC time ("2015-08-30T12:36:00Z", fractions allowed); -1 if bad. */
long long pp_aws_parse_time(const char *s);

/* Replace the strings of c with copies of these (token may be NULL or empty). */
void pp_aws_creds_set(pp_aws_creds *c, const char *id, const char *secret, const char *token,
                      time_t expiration);

/* The text of the first <tag>...</tag> in xml with entities decoded, or NULL. Caller
 * frees. */
char *pp_aws_xml_text(const char *xml, const char *tag);

/* Credentials from an STS AssumeRole / AssumeRoleWithWebIdentity answer. 0 or -1. */
int pp_aws_parse_sts(const char *xml, pp_aws_creds *out, char *errstr, size_t errstr_size);

/* Credentials from the container / instance metadata JSON. 0 or -1. */
int pp_aws_parse_json_creds(const char *text, pp_aws_creds *out, char *errstr, size_t errstr_size);

/* The value of key in [section] of an INI text, or NULL. Caller frees. */
char *pp_aws_ini_get(const char *text, const char *section, const char *key);

#endif
