/* Framed messages over the board's UART (board.h: CMSDK UART0 on mps2-an386). The host end is host-sim/qemu/link.ts.
 * Frame: 0xA5, type u8, length u32 little-endian, payload (firmware.h lists the types).
 * Sending is blocking byte by byte; receiving polls. Answers (GO, CUT, ANSWER) are what a
 * synchronous call waits for; events (HTTP, HALT) that arrive meanwhile are queued in order. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "board.h"
#include "firmware.h"

static fw_frame* queue_head;
static fw_frame* queue_tail;

uint32_t rd32(const uint8_t* p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24); }
void wr32(uint8_t* p, uint32_t v) {
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

void link_init(void) { uart_init(); }

static void put(uint8_t b) {
	while (uart_tx_full()) {}
	uart_put(b);
}
static void put_all(const uint8_t* p, size_t n) {
	while (n--) put(*p++);
}
static uint8_t get(void) {
	if (!uart_rx_ready()) {
		uint64_t t = fw_micros();
		while (!uart_rx_ready()) {}
		fw_idle_us += fw_micros() - t;
	}
	return uart_get();
}

void link_raw(const char* text, size_t n) { put_all((const uint8_t*)text, n); }

void link_send(uint8_t type, const void* a, size_t alen, const void* b, size_t blen) {
	uint8_t head[6];
	head[0] = LINK_SYNC;
	head[1] = type;
	wr32(head + 2, (uint32_t)(alen + blen));
	put_all(head, 6);
	if (alen) put_all((const uint8_t*)a, alen);
	if (blen) put_all((const uint8_t*)b, blen);
}

void link_log(const char* fmt, ...) {
	char line[200];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0) return;
	if (n >= (int)sizeof(line)) n = sizeof(line) - 1;
	link_send(TO_HOST_LOG, line, (size_t)n, NULL, 0);
}

static fw_frame* read_frame(void) {
	uint8_t head[5];
	while (get() != LINK_SYNC) {}
	for (int i = 0; i < 5; i++) head[i] = get();
	uint32_t length = rd32(head + 1);
	fw_frame* f = malloc(sizeof(fw_frame) + length + 1);
	if (!f) fw_out_of_ram(sizeof(fw_frame) + length + 1);
	f->next = NULL;
	f->type = head[0];
	f->length = length;
	for (uint32_t i = 0; i < length; i++) f->payload[i] = get();
	f->payload[length] = 0;
	return f;
}

static void enqueue(fw_frame* f) {
	if (queue_tail) queue_tail->next = f;
	else queue_head = f;
	queue_tail = f;
}

fw_frame* link_wait(uint8_t type1, uint8_t type2) {
	for (;;) {
		fw_frame* f = read_frame();
		if (f->type == type1 || f->type == type2) return f;
		enqueue(f);
	}
}

fw_frame* link_poll(void) {
	if (queue_head) {
		fw_frame* f = queue_head;
		queue_head = f->next;
		if (!queue_head) queue_tail = NULL;
		f->next = NULL;
		return f;
	}
	if (uart_rx_ready()) return read_frame();
	return NULL;
}
