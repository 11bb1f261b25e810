/* fuzz_sigv4: the SigV4 canonicaliser on arbitrary paths, query strings and headers, and
 * the header lines of a signed AWS request built from them. */
#include "fuzz.h"
#include "pp_aws_http.h"
#include "pp_sigv4.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Split the input at NUL bytes into path, query, then header names and values. */
    char *copy = malloc(size + 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    const char *parts[16] = {"/", "", NULL};
    size_t n = 0;
    for (char *p = copy; n < 16 && p <= copy + size; p += strlen(p) + 1)
        parts[n++] = p;
    const char *headers[12];
    size_t nh = 0;
    for (size_t k = 2; k + 1 < n && nh < 6; k += 2, nh++) {
        headers[2 * nh] = parts[k];
        headers[2 * nh + 1] = parts[k + 1];
    }
    pp_aws_creds c = {"AKIDEXAMPLE", "secret", NULL, 0};
    pp_sigv4_request r = {"GET", parts[0], n > 1 ? parts[1] : "", headers,   nh,
                          data,  size,     "us-east-1",           "service", 1440938160};
    pp_buf out = {0}, canon = {0};
    pp_sigv4_authorization(&c, &r, &out, &canon);
    pp_buf q = {0};
    pp_sigv4_presign(&c, "example.amazonaws.com", parts[0], n > 1 ? parts[1] : "", "us-east-1",
                     "kafka-cluster", 1440938160, 900, &q);
    pp_aws_creds tc = {"AKIDEXAMPLE", "secret", n > 2 ? (char *)parts[2] : NULL, 0};
    r.headers = headers + 2; /* the first pair stands for Host */
    r.nheaders = nh ? nh - 1 : 0;
    pp_aws_http_headers_free(pp_aws_http_signed_headers(&tc, nh ? headers[1] : "h", &r));
    pp_buf_free(&out);
    pp_buf_free(&canon);
    pp_buf_free(&q);
    free(copy);
    return 0;
}
