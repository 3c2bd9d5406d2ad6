/* Base64 (RFC 4648, standard alphabet, padded), strict in what it accepts. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "xmalloc.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Maps a character to its 6-bit value, -1 when it is not in the alphabet. */
static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Every 12-bit value as its two characters: a 3-byte group is two
 * lookups, not four shifts and four lookups.  Streamed output is base64
 * end to end, so this is the daemon's busiest loop while streaming.
 */
static char		 b64_pairs[4096][2];
static pthread_once_t	 b64_pairs_once = PTHREAD_ONCE_INIT;

static void
b64_pairs_init(void)
{
	int	 i;

	for (i = 0; i < 4096; i++) {
		b64_pairs[i][0] = b64_alphabet[i >> 6];
		b64_pairs[i][1] = b64_alphabet[i & 63];
	}
}

/* Encodes whole 3-byte groups, then one padded tail group. */
char *
b64_encode(const void *data, size_t len, size_t *outlen)
{
	const unsigned char	*in = data;
	char			*out, *p;
	size_t			 i;
	uint32_t		 v;

	if (len > (SIZE_MAX - 1) / 4 * 3 - 2)
		return NULL;
	pthread_once(&b64_pairs_once, b64_pairs_init);
	out = p = xmalloc((len + 2) / 3 * 4 + 1);
	for (i = 0; i + 3 <= len; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		memcpy(p, b64_pairs[v >> 12], 2);
		memcpy(p + 2, b64_pairs[v & 4095], 2);
		p += 4;
	}
	if (len - i > 0) {
		v = (uint32_t)in[i] << 16;
		if (len - i == 2)
			v |= (uint32_t)in[i + 1] << 8;
		*p++ = b64_alphabet[v >> 18 & 63];
		*p++ = b64_alphabet[v >> 12 & 63];
		*p++ = len - i == 2 ? b64_alphabet[v >> 6 & 63] : '=';
		*p++ = '=';
	}
	*p = '\0';
	if (outlen != NULL)
		*outlen = (size_t)(p - out);
	return out;
}

/* Upper bound of the decoded size: three bytes per four characters. */
size_t
b64_decoded_max(size_t len)
{
	return (len + 3) / 4 * 3;
}

/*
 * Decodes one 4-character group; returns the number of bytes it yields
 * (1..3) or -1.  Padding is only allowed in the last group, and the bits
 * it hides must be zero, so every input has exactly one encoding.
 */
static int
b64_group(const char *s, int last, unsigned char *out)
{
	int		 v[4], i, npad = 0;
	uint32_t	 w;

	for (i = 0; i < 4; i++) {
		if (s[i] == '=' && last && i >= 2) {
			npad++;
			v[i] = 0;
			continue;
		}
		if (npad > 0 || (v[i] = b64_value((unsigned char)s[i])) < 0)
			return -1;
	}
	w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
	    (uint32_t)v[2] << 6 | (uint32_t)v[3];
	if ((npad == 2 && (w & 0xffff) != 0) || (npad == 1 && (w & 0xff) != 0))
		return -1;
	out[0] = w >> 16 & 0xff;
	out[1] = w >> 8 & 0xff;
	out[2] = w & 0xff;
	return 3 - npad;
}

/* Decodes group by group; any stray byte, bad length or padding fails. */
int
b64_decode(const char *s, size_t len, unsigned char **out, size_t *outlen)
{
	unsigned char	*buf;
	size_t		 i, n = 0;
	int		 r;

	*out = NULL;
	if (outlen != NULL)
		*outlen = 0;
	if (len % 4 != 0)
		return -1;
	buf = xmalloc(b64_decoded_max(len) + 1);
	for (i = 0; i < len; i += 4) {
		if ((r = b64_group(s + i, i + 4 == len, buf + n)) < 0) {
			free(buf);
			return -1;
		}
		n += (size_t)r;
	}
	buf[n] = '\0';
	*out = buf;
	if (outlen != NULL)
		*outlen = n;
	return 0;
}
