/* The host functions behind the firmware's Moddable modules (js/device.js): one global object
 * `__fw` whose functions reach the flash (flash.c), the digests (digests.c), the clock and
 * timers (xs-host.c), the HTTP bridge and the host's preference store over the link (link.c),
 * and the reset. */
#include "xsAll.h"
#include "xs.h"
#include "board.h"
#include "firmware.h"
#include "xs-host.h"

static void throw_if(xsMachine* the, const char* error) {
	if (error) xsUnknownError("%s", error);
}

/* Bytes of args (buffer, offset, length): buffer is an ArrayBuffer, checked in C. */
static uint8_t* bytes_arg(xsMachine* the, int i, uint32_t* length) {
	uint32_t size = (uint32_t)xsGetArrayBufferLength(xsArg(i));
	uint32_t offset = (uint32_t)xsToInteger(xsArg(i + 1));
	uint32_t n = (uint32_t)xsToInteger(xsArg(i + 2));
	if (offset > size || n > size - offset) xsRangeError("bytes outside the buffer");
	*length = n;
	return (uint8_t*)xsToArrayBuffer(xsArg(i)) + offset;
}

static void fw_log_text(xsMachine* the) {
	const char* s = xsToString(xsArg(0));
	link_send(TO_HOST_LOG, s, strlen(s), NULL, 0);
}

static void fw_trace(xsMachine* the) {
	const char* s = xsToString(xsArg(0));
	link_send(TO_HOST_TRACE, s, strlen(s), NULL, 0);
}

static void fw_ticks(xsMachine* the) { xsResult = xsNumber((double)fw_micros() / 1000.0); }

static void fw_flash_config(xsMachine* the) {
	fw_flash.size = (uint32_t)xsToInteger(xsArg(0));
	fw_flash.sector = (uint32_t)xsToInteger(xsArg(1));
	fw_flash.align = (uint32_t)xsToInteger(xsArg(2));
	fw_flash.erased = (uint8_t)xsToInteger(xsArg(3));
	fw_flash.staging = (uint32_t)xsToInteger(xsArg(4));
	fw_flash.mailbox = (uint32_t)xsToInteger(xsArg(5));
	fw_flash.mailboxSize = (uint32_t)xsToInteger(xsArg(6));
	if (fw_flash.size > fw_flash.staging || fw_flash.staging >= fw_flash.mailbox || fw_flash.mailboxSize > FLASH_WINDOW ||
		fw_flash.mailbox > FLASH_WINDOW - fw_flash.mailboxSize || fw_flash.sector == 0 || fw_flash.align == 0)
		xsRangeError("flash geometry");
}

static void fw_flash_read(xsMachine* the) {
	uint32_t address = (uint32_t)xsToInteger(xsArg(0));
	uint32_t length = (uint32_t)xsToInteger(xsArg(1));
	xsResult = xsArrayBuffer(NULL, length);
	throw_if(the, flash_read(address, xsToArrayBuffer(xsResult), length));
}

static void fw_flash_write(xsMachine* the) {
	uint32_t length;
	uint32_t address = (uint32_t)xsToInteger(xsArg(0));
	uint8_t* data = bytes_arg(the, 1, &length);
	throw_if(the, flash_write(address, data, length));
}

static void fw_flash_erase(xsMachine* the) {
	throw_if(the, flash_erase((uint32_t)xsToInteger(xsArg(0)), (uint32_t)xsToInteger(xsArg(1))));
}

/* ---- digests: a host object holding the C context ---- */
enum { DIGEST_MD5 = 1, DIGEST_SHA256 = 2, DIGEST_CRC32 = 3 };
typedef struct {
	int kind;
	union {
		md5_ctx md5;
		sha256_ctx sha256;
		uint32_t crc;
	} u;
} fw_digest;

static void digest_destructor(void* data) { free(data); }

static void digest_reset(fw_digest* d) {
	if (d->kind == DIGEST_MD5) md5_init(&d->u.md5);
	else if (d->kind == DIGEST_SHA256) sha256_init(&d->u.sha256);
	else d->u.crc = 0;
}

static void fw_digest_new(xsMachine* the) {
	const char* name = xsToString(xsArg(0));
	int kind = !strcmp(name, "MD5") ? DIGEST_MD5 : !strcmp(name, "SHA256") ? DIGEST_SHA256 : !strcmp(name, "CRC32") ? DIGEST_CRC32 : 0;
	if (!kind) xsUnknownError("crypt: unsupported digest");
	fw_digest* d = malloc(sizeof(fw_digest));
	if (!d) fw_out_of_ram(sizeof(fw_digest));
	d->kind = kind;
	digest_reset(d);
	xsResult = xsNewHostObject(digest_destructor);
	xsSetHostData(xsResult, d);
}

static fw_digest* digest_of(xsMachine* the) { return (fw_digest*)xsGetHostData(xsArg(0)); }

static void fw_digest_write(xsMachine* the) {
	fw_digest* d = digest_of(the);
	uint32_t n;
	uint8_t* p = bytes_arg(the, 1, &n);
	if (d->kind == DIGEST_MD5) md5_update(&d->u.md5, p, n);
	else if (d->kind == DIGEST_SHA256) sha256_update(&d->u.sha256, p, n);
	else d->u.crc = crc32_update(d->u.crc, p, n);
}

static void fw_digest_close(xsMachine* the) {
	fw_digest* d = digest_of(the);
	uint8_t out[32];
	uint32_t n;
	if (d->kind == DIGEST_MD5) {
		md5_final(&d->u.md5, out);
		n = 16;
	} else if (d->kind == DIGEST_SHA256) {
		sha256_final(&d->u.sha256, out);
		n = 32;
	} else {
		uint32_t c = d->u.crc;
		out[0] = (uint8_t)(c >> 24); out[1] = (uint8_t)(c >> 16); out[2] = (uint8_t)(c >> 8); out[3] = (uint8_t)c;
		n = 4;
	}
	xsResult = xsArrayBuffer(out, n);
}

static void fw_digest_reset(xsMachine* the) { digest_reset(digest_of(the)); }

/* ---- timers (the run loop fires them) ---- */
static void fw_timer_set(xsMachine* the) {
	host_timer_set((uint32_t)xsToInteger(xsArg(0)), (uint32_t)xsToInteger(xsArg(1)), (uint32_t)xsToInteger(xsArg(2)));
}
static void fw_timer_clear(xsMachine* the) { host_timer_clear((uint32_t)xsToInteger(xsArg(0))); }

/* ---- HTTP over the link ---- */
static void fw_http_open(xsMachine* the) {
	uint8_t head[8];
	uint32_t id = (uint32_t)xsToInteger(xsArg(0));
	const char* json = xsToString(xsArg(1));
	uint32_t jlen = (uint32_t)strlen(json);
	/* one contiguous payload: id, JSON length, JSON, body */
	uint32_t blen = 0;
	uint8_t* body = NULL;
	if (xsToInteger(xsArgc) > 2 && xsTest(xsArg(2))) body = bytes_arg(the, 2, &blen);
	json = xsToString(xsArg(1)); /* re-read: nothing allocated, but keep the pointer fresh */
	uint8_t* payload = malloc(8 + jlen + blen);
	if (!payload) fw_out_of_ram(8 + jlen + blen);
	wr32(head, id);
	wr32(head + 4, jlen);
	memcpy(payload, head, 8);
	memcpy(payload + 8, json, jlen);
	if (blen) memcpy(payload + 8 + jlen, body, blen);
	link_send(TO_HOST_HTTP_OPEN, payload, 8 + jlen + blen, NULL, 0);
	free(payload);
	link_log("http: open %lu", (unsigned long)id);
}

static void fw_http_close(xsMachine* the) {
	uint8_t head[4];
	uint32_t id = (uint32_t)xsToInteger(xsArg(0));
	wr32(head, id);
	link_send(TO_HOST_HTTP_CLOSE, head, 4, NULL, 0);
	link_log("http: close %lu", (unsigned long)id);
}

/* ---- synchronous requests answered by the host (preference, net) ---- */
static void fw_request(xsMachine* the) {
	uint8_t op = (uint8_t)xsToInteger(xsArg(0));
	uint32_t n;
	uint8_t* p = bytes_arg(the, 1, &n);
	link_send(TO_HOST_REQUEST, &op, 1, p, n);
	fw_frame* f = link_wait(FROM_HOST_ANSWER, FROM_HOST_ANSWER);
	xsResult = xsArrayBuffer(f->payload, f->length);
	free(f);
}

static void fw_done(xsMachine* the) {
	uint8_t ok = xsTest(xsArg(0)) ? 1 : 0;
	const char* json = xsToString(xsArg(1));
	link_send(TO_HOST_DONE, &ok, 1, json, strlen(json));
	host_done();
}

static void fw_restart_native(xsMachine* the) {
	host_report_stats(the);
	fw_restart();
}

/* ---- UTF-8 (the Moddable ArrayBuffer.fromString / String.fromArrayBuffer natives) ---- */
static void fw_utf8_encode(xsMachine* the) {
	xsStringValue s = xsToString(xsArg(0));
	xsIntegerValue n = (xsIntegerValue)strlen(s);
	xsResult = xsArrayBuffer(NULL, n);
	s = xsToString(xsArg(0)); /* the allocation may have moved the string */
	memcpy(xsToArrayBuffer(xsResult), s, n);
}

static void fw_utf8_decode(xsMachine* the) {
	uint32_t n;
	uint8_t* p = bytes_arg(the, 0, &n);
	xsResult = xsStringBuffer(NULL, (xsIntegerValue)n);
	p = bytes_arg(the, 0, &n);
	memcpy(xsToString(xsResult), p, n);
}

static void fw_gc(xsMachine* the) { xsCollectGarbage(); }

/* Benchmark: SHA-256, MD5 and CRC-32 in C over flash [address, +length) in 4 KiB reads, as the
 * runtime streams an image; returns the microseconds of work (no JS involved). */
static void fw_bench_digests(xsMachine* the) {
	uint32_t address = (uint32_t)xsToInteger(xsArg(0));
	uint32_t length = (uint32_t)xsToInteger(xsArg(1));
	enum { BLOCK = 4096 };
	uint8_t* block = malloc(BLOCK);
	if (!block) fw_out_of_ram(BLOCK);
	sha256_ctx sha;
	md5_ctx md5;
	uint32_t crc = 0;
	uint8_t out[32];
	uint64_t t = fw_micros();
	sha256_init(&sha);
	md5_init(&md5);
	for (uint32_t at = 0; at < length; at += BLOCK) {
		uint32_t n = length - at < BLOCK ? length - at : BLOCK;
		throw_if(the, flash_read(address + at, block, n));
		sha256_update(&sha, block, n);
		md5_update(&md5, block, n);
		crc = crc32_update(crc, block, n);
	}
	sha256_final(&sha, out);
	md5_final(&md5, out);
	(void)crc;
	xsResult = xsNumber((double)(fw_micros() - t));
	free(block);
}

void natives_install(xsMachine* the) {
	static const struct {
		const char* name;
		xsCallback fn;
		int length;
	} table[] = {
		{ "log", fw_log_text, 1 }, { "trace", fw_trace, 1 }, { "ticks", fw_ticks, 0 },
		{ "flashConfig", fw_flash_config, 7 }, { "flashRead", fw_flash_read, 2 }, { "flashWrite", fw_flash_write, 4 },
		{ "flashErase", fw_flash_erase, 2 }, { "digestNew", fw_digest_new, 1 }, { "digestWrite", fw_digest_write, 4 },
		{ "digestClose", fw_digest_close, 1 }, { "digestReset", fw_digest_reset, 1 }, { "timerSet", fw_timer_set, 3 },
		{ "timerClear", fw_timer_clear, 1 }, { "httpOpen", fw_http_open, 5 },
		{ "httpClose", fw_http_close, 1 }, { "request", fw_request, 4 }, { "done", fw_done, 2 },
		{ "restart", fw_restart_native, 0 }, { "utf8Encode", fw_utf8_encode, 1 }, { "utf8Decode", fw_utf8_decode, 3 },
		{ "gc", fw_gc, 0 }, { "benchDigests", fw_bench_digests, 2 },
	};
	/* uses xsVar(1) and xsVar(2) of the caller's frame (xs-host.c: xsVars(3)) */
	xsVar(1) = xsNewObject();
	for (unsigned i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		xsVar(2) = xsNewHostFunction(table[i].fn, table[i].length);
		xsSet(xsVar(1), xsID(table[i].name), xsVar(2));
	}
	xsDefine(xsGlobal, xsID("__fw"), xsVar(1), xsDontEnum);
}
