/* Base64 (RFC 4648, standard alphabet, padded) for the `*_b64` fields. */
#ifndef SBX_BASE64_H
#define SBX_BASE64_H

#include <stddef.h>

/* Returns a NUL-terminated encoding (caller frees); *outlen without NUL. */
char	*b64_encode(const void *, size_t, size_t *outlen);

/*
 * Decodes into a new buffer (caller frees; NUL-terminated for convenience);
 * returns -1 on any invalid character, bad padding or bad length.
 * Whitespace is not accepted.
 */
int	 b64_decode(const char *, size_t, unsigned char **out, size_t *outlen);

/* Upper bound of the decoded size of `len` characters. */
size_t	 b64_decoded_max(size_t len);

#endif
