/* SHA-256 (FIPS 180-4), MD5 (RFC 1321) and CRC-32 (IEEE 802.3, reflected 0xEDB88320) in C, the
 * natives behind the `crypt` module's Digest on this firmware. */
#include <string.h>
#include "firmware.h"

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
#define ROL(x, n) (((x) << (n)) | ((x) >> (32 - (n))))

static const uint32_t K256[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be,
	0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa,
	0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85,
	0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3,
	0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f,
	0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static void sha256_block(sha256_ctx* c, const uint8_t* p) {
	uint32_t w[64], a, b, d, e, f, g, h, cc, t1, t2;
	for (int i = 0; i < 16; i++) w[i] = ((uint32_t)p[4 * i] << 24) | ((uint32_t)p[4 * i + 1] << 16) | ((uint32_t)p[4 * i + 2] << 8) | p[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	a = c->state[0]; b = c->state[1]; cc = c->state[2]; d = c->state[3];
	e = c->state[4]; f = c->state[5]; g = c->state[6]; h = c->state[7];
	for (int i = 0; i < 64; i++) {
		t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K256[i] + w[i];
		t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & cc) ^ (b & cc));
		h = g; g = f; f = e; e = d + t1; d = cc; cc = b; b = a; a = t1 + t2;
	}
	c->state[0] += a; c->state[1] += b; c->state[2] += cc; c->state[3] += d;
	c->state[4] += e; c->state[5] += f; c->state[6] += g; c->state[7] += h;
}

/* The 64-byte block buffering MD5 and SHA-256 share: whole blocks straight from the input, the
 * rest through `block`. */
static void buffered_update(uint8_t block[64], uint32_t* used, uint64_t* bytes, const uint8_t* p, size_t n,
		void (*compress)(void* ctx, const uint8_t* block), void* ctx) {
	*bytes += n;
	while (n) {
		if (*used == 0 && n >= 64) {
			compress(ctx, p);
			p += 64;
			n -= 64;
			continue;
		}
		size_t take = 64 - *used < n ? 64 - *used : n;
		memcpy(block + *used, p, take);
		*used += take;
		p += take;
		n -= take;
		if (*used == 64) {
			compress(ctx, block);
			*used = 0;
		}
	}
}

static void sha256_compress(void* c, const uint8_t* p) {
	sha256_block((sha256_ctx*)c, p);
}

void sha256_init(sha256_ctx* c) {
	static const uint32_t iv[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
	memcpy(c->state, iv, sizeof(iv));
	c->bytes = 0;
	c->used = 0;
}

void sha256_update(sha256_ctx* c, const uint8_t* p, size_t n) {
	buffered_update(c->block, &c->used, &c->bytes, p, n, sha256_compress, c);
}

void sha256_final(sha256_ctx* c, uint8_t out[32]) {
	uint64_t bits = c->bytes * 8;
	uint8_t pad = 0x80, zero = 0, len[8];
	sha256_update(c, &pad, 1);
	while (c->used != 56) sha256_update(c, &zero, 1);
	for (int i = 0; i < 8; i++) len[i] = (uint8_t)(bits >> (56 - 8 * i));
	sha256_update(c, len, 8);
	for (int i = 0; i < 8; i++) {
		out[4 * i] = (uint8_t)(c->state[i] >> 24);
		out[4 * i + 1] = (uint8_t)(c->state[i] >> 16);
		out[4 * i + 2] = (uint8_t)(c->state[i] >> 8);
		out[4 * i + 3] = (uint8_t)c->state[i];
	}
}

static const uint32_t KMD5[64] = {
	0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1,
	0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453,
	0xd8a1e681, 0xe7d3fbc8, 0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a, 0xfffa3942,
	0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05,
	0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665, 0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d,
	0x85845dd1, 0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};
static const uint8_t RMD5[64] = {
	7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
	4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
};

static void md5_block(md5_ctx* c, const uint8_t* p) {
	uint32_t m[16], a = c->state[0], b = c->state[1], cc = c->state[2], d = c->state[3];
	for (int i = 0; i < 16; i++) m[i] = (uint32_t)p[4 * i] | ((uint32_t)p[4 * i + 1] << 8) | ((uint32_t)p[4 * i + 2] << 16) | ((uint32_t)p[4 * i + 3] << 24);
	for (int i = 0; i < 64; i++) {
		uint32_t f;
		int g;
		if (i < 16) { f = (b & cc) | (~b & d); g = i; }
		else if (i < 32) { f = (d & b) | (~d & cc); g = (5 * i + 1) & 15; }
		else if (i < 48) { f = b ^ cc ^ d; g = (3 * i + 5) & 15; }
		else { f = cc ^ (b | ~d); g = (7 * i) & 15; }
		uint32_t t = d;
		d = cc;
		cc = b;
		b = b + ROL(a + f + KMD5[i] + m[g], RMD5[i]);
		a = t;
	}
	c->state[0] += a; c->state[1] += b; c->state[2] += cc; c->state[3] += d;
}

static void md5_compress(void* c, const uint8_t* p) {
	md5_block((md5_ctx*)c, p);
}

void md5_init(md5_ctx* c) {
	c->state[0] = 0x67452301; c->state[1] = 0xefcdab89; c->state[2] = 0x98badcfe; c->state[3] = 0x10325476;
	c->bytes = 0;
	c->used = 0;
}

void md5_update(md5_ctx* c, const uint8_t* p, size_t n) {
	buffered_update(c->block, &c->used, &c->bytes, p, n, md5_compress, c);
}

void md5_final(md5_ctx* c, uint8_t out[16]) {
	uint64_t bits = c->bytes * 8;
	uint8_t pad = 0x80, zero = 0, len[8];
	md5_update(c, &pad, 1);
	while (c->used != 56) md5_update(c, &zero, 1);
	for (int i = 0; i < 8; i++) len[i] = (uint8_t)(bits >> (8 * i));
	md5_update(c, len, 8);
	for (int i = 0; i < 4; i++) {
		out[4 * i] = (uint8_t)c->state[i];
		out[4 * i + 1] = (uint8_t)(c->state[i] >> 8);
		out[4 * i + 2] = (uint8_t)(c->state[i] >> 16);
		out[4 * i + 3] = (uint8_t)(c->state[i] >> 24);
	}
}

static uint32_t crc_table[256];
uint32_t crc32_update(uint32_t crc, const uint8_t* p, size_t n) {
	if (!crc_table[1]) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;
			for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
			crc_table[i] = c;
		}
	}
	crc = ~crc;
	while (n--) crc = crc_table[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
	return ~crc;
}
