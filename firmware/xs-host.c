/* The XS machine and the run loop: promise jobs, timers on the SysTick clock, events from the
 * link (HTTP, halt), one event at a time with the promise jobs drained after each, as a device's
 * main loop does between callbacks. Also the XS platform hooks this firmware provides
 * (fxQueuePromiseJobs, fxAbort). */
#include "xsAll.h"
#include "xs.h"
#include "board.h"
#include "firmware.h"
#include "xs-host.h"
#include "xsb.h"

/* xs/sources/xsRun.c (not declared in xsAll.h) */
extern void fxRemapIDs(txMachine* the, txByte* codeBuffer, txSize codeSize, txID* theIDs);

/* Creation parameters (slots are 16 bytes, chunks are bytes): small, as on an MCU; the machine
 * grows in these increments until the RAM budget says no. */
static xsCreation creation = {
	16 * 1024, /* initialChunkSize */
	4 * 1024, /* incrementalChunkSize */
	2048, /* initialHeapCount */
	256, /* incrementalHeapCount */
	768, /* stackCount */
	1024, /* initialKeyCount */
	256, /* incrementalKeyCount */
	127, /* nameModulo */
	127, /* symbolModulo */
	4 * 1024, /* parserBufferSize */
	127, /* parserTableModulo */
	0, /* staticSize */
};

#define MAX_TIMERS 16
typedef struct {
	uint32_t id;
	uint32_t due;
	uint32_t repeat;
	uint8_t active;
} fw_timer;
static fw_timer timers[MAX_TIMERS];
static int done;
static xsMachine* machine;

enum { EV_TIMER = 2, EV_HTTP_RESPONSE = 4, EV_HTTP_DATA = 5, EV_HTTP_END = 6, EV_HTTP_ERROR = 7 };

void host_timer_set(uint32_t id, uint32_t ms, uint32_t repeat) {
	fw_timer* free_slot = NULL;
	for (int i = 0; i < MAX_TIMERS; i++) {
		if (timers[i].active && timers[i].id == id) free_slot = &timers[i];
		else if (!timers[i].active && !free_slot) free_slot = &timers[i];
	}
	if (!free_slot) fw_fatal("too many timers");
	free_slot->id = id;
	free_slot->due = fw_millis() + ms;
	free_slot->repeat = repeat;
	free_slot->active = 1;
}

void host_timer_clear(uint32_t id) {
	for (int i = 0; i < MAX_TIMERS; i++)
		if (timers[i].active && timers[i].id == id) timers[i].active = 0;
}

void host_done(void) { done = 1; }

void fxQueuePromiseJobs(txMachine* the) { the->promiseJobs = 1; }

void fxAbort(txMachine* the, int status) {
	switch (status) {
	case XS_NOT_ENOUGH_MEMORY_EXIT:
		fw_out_of_ram(0);
	case XS_STACK_OVERFLOW_EXIT:
		fw_fatal("XS stack overflow (raise stackCount or the RAM budget)");
	case XS_NO_MORE_KEYS_EXIT:
		fw_fatal("XS: not enough keys");
	case XS_UNHANDLED_REJECTION_EXIT:
		link_log("unhandled rejection: %s", fxToString(the, &mxException));
		mxException = mxUndefined;
		return;
	case XS_UNHANDLED_EXCEPTION_EXIT:
		link_log("unhandled exception: %s", fxToString(the, &mxException));
		fw_fatal("unhandled exception");
	default:
		fw_fatal("XS abort");
	}
}

/* Runs a precompiled script (xsb.h) in place: its symbols get the machine's IDs (written into the
 * bytecode, as fxRunScript does for a parsed script), then the program runs; functions and strings
 * stay in the code memory (the _ARCHIVE opcodes), only objects and closures take XS heap. */
static void run_xsb(xsMachine* the, uint8_t* blob, const char* name) {
	if (memcmp(blob + XSB_MAGIC_OFFSET, XSB_MAGIC, 4)) fw_fatal("not a precompiled script");
	uint32_t symbolsSize = rd32(blob + XSB_SYMBOLS_SIZE_OFFSET);
	uint32_t codeSize = rd32(blob + XSB_CODE_SIZE_OFFSET);
	txByte* p = (txByte*)blob + XSB_HEADER_SIZE;
	txByte* code = p + symbolsSize;
	txID count, i;
	mxDecodeID(p, count);
	txID* ids = c_malloc(count * sizeof(txID));
	if (!ids) fw_out_of_ram(count * sizeof(txID));
	ids[0] = XS_NO_ID;
	/* The names stay in the code memory, used in place (XS_KEY_X_KIND, as Moddable's archives'
	 * symbols are): fxNewNameC would copy every one into the chunk heap (about 25 KiB of arena for
	 * the runtime bundle, what the delta code's growth pushed past the 320 KiB budget). */
	for (i = 1; i < count; i++) {
		ids[i] = fxNewNameX(the, (txString)p);
		p += c_strlen((char*)p) + 1;
	}
	fxRemapIDs(the, code, (txSize)codeSize, ids);
	c_free(ids);
	txScript script;
	c_memset(&script, 0, sizeof(script));
	script.codeBuffer = code;
	script.codeSize = (txSize)codeSize;
	txSlot* realm = mxProgram.value.reference->next->value.module.realm;
	fxRunScript(the, &script, mxRealmGlobal(realm), C_NULL, mxRealmClosures(realm)->value.reference, C_NULL, mxProgram.value.reference);
	mxPullSlot(mxResult);
	link_log("loaded %s (%lu bytes of bytecode), arena %lu bytes", name, (unsigned long)codeSize, (unsigned long)fw_heap_now());
}

static void drain(xsMachine* the) {
	while (the->promiseJobs) {
		the->promiseJobs = 0;
		fxRunPromiseJobs(the);
	}
	fxEndJob(the);
}

void host_report_stats(xsMachine* the) {
	char json[240];
	uint64_t us = fw_micros();
	int n = snprintf(json, sizeof(json), "{\"peakArena\":%lu,\"peakStack\":%lu,\"arenaLimit\":%lu,\"ramLimit\":%lu,\"flashOps\":%lu,\"ms\":%lu,\"us\":%llu,\"idleUs\":%llu}",
		(unsigned long)fw_heap_peak(), (unsigned long)fw_stack_peak(), (unsigned long)fw_heap_limit(), (unsigned long)fw_ram_limit(),
		(unsigned long)fw_flash_ops, (unsigned long)fw_millis(), (unsigned long long)us, (unsigned long long)fw_idle_us);
	(void)the;
	link_send(TO_HOST_STATS, json, (size_t)n, NULL, 0);
}

/* Calls globalThis.__fwEvent(kind, a, b, payload) with an ArrayBuffer copy of the payload. */
static void deliver(xsMachine* the, int kind, uint32_t a, uint32_t b, const uint8_t* payload, uint32_t length) {
	xsTry {
		xsVar(0) = payload ? xsArrayBuffer((void*)payload, (xsIntegerValue)length) : xsUndefined;
		xsCall4_noResult(xsGlobal, xsID("__fwEvent"), xsInteger(kind), xsNumber(a), xsNumber(b), xsVar(0));
	}
	xsCatch {
		link_log("exception in event %d: %s", kind, xsToString(xsException));
		fw_fatal("exception escaped an event handler");
	}
}

/* A body fragment is acknowledged (the host may then send the next) once it was handled: its
 * promise jobs ran and the timers it made due ran too, so the next fragment arrives when the
 * device would next read its socket. */
#define MAX_ACKS 8
static uint32_t acks[MAX_ACKS];
static int ack_count;
static void ack_later(uint32_t id) {
	if (ack_count == MAX_ACKS) fw_fatal("too many unacknowledged HTTP fragments");
	acks[ack_count++] = id;
}
static void ack_now(void) {
	for (int i = 0; i < ack_count; i++) {
		uint8_t b[4];
		wr32(b, acks[i]);
		link_send(TO_HOST_HTTP_ACK, b, 4, NULL, 0);
	}
	ack_count = 0;
}

static void dispatch(xsMachine* the, fw_frame* f) {
	const uint8_t* p = f->payload;
	switch (f->type) {
	case FROM_HOST_HTTP_RESPONSE:
		deliver(the, EV_HTTP_RESPONSE, rd32(p + HTTP_ID), rd32(p + HTTP_RESPONSE_STATUS), p + HTTP_RESPONSE_HEADERS, f->length - HTTP_RESPONSE_HEADERS);
		break;
	case FROM_HOST_HTTP_DATA: {
		uint32_t id = rd32(p + HTTP_ID), offset = rd32(p + HTTP_DATA_OFFSET), length = rd32(p + HTTP_DATA_LENGTH);
		if (offset < fw_flash.mailbox || length > fw_flash.mailboxSize || offset - fw_flash.mailbox > fw_flash.mailboxSize - length)
			fw_fatal("HTTP data outside the mailbox");
		deliver(the, EV_HTTP_DATA, id, 0, (const uint8_t*)(FLASH_BASE + offset), length);
		ack_later(id);
		break;
	}
	case FROM_HOST_HTTP_END:
		deliver(the, EV_HTTP_END, rd32(p + HTTP_ID), 0, NULL, 0);
		break;
	case FROM_HOST_HTTP_ERROR:
		deliver(the, EV_HTTP_ERROR, rd32(p + HTTP_ID), 0, p + HTTP_ERROR_REASON, f->length - HTTP_ERROR_REASON);
		break;
	case FROM_HOST_HALT:
		link_log("power lost");
		host_report_stats(the);
		fw_halt();
	default:
		link_log("unexpected frame 0x%x", f->type);
	}
}

static int fire_timer(xsMachine* the) {
	uint32_t now = fw_millis();
	for (int i = 0; i < MAX_TIMERS; i++) {
		fw_timer* t = &timers[i];
		if (t->active && (int32_t)(now - t->due) >= 0) {
			uint32_t id = t->id;
			if (t->repeat) t->due = now + t->repeat;
			else t->active = 0;
			deliver(the, EV_TIMER, id, 0, NULL, 0);
			return 1;
		}
	}
	return 0;
}

void host_run(fw_frame* args) {
	machine = xsCreateMachine(&creation, "xs-ota-qemu", NULL);
	if (!machine) fw_out_of_ram(0);
	link_log("xs: machine created, arena %lu bytes", (unsigned long)fw_heap_now());
	xsBeginHost(machine);
	{
		xsVars(3); /* 0: event payload / start arguments; 1, 2: natives_install */
		xsTry {
			natives_install(the);
			run_xsb(the, xsb_device, "device.js");
			run_xsb(the, xsb_bundle, "xs-ota-runtime.js");
			xsVar(0) = xsStringBuffer((char*)args->payload, (xsIntegerValue)args->length);
			free(args);
			xsCall1_noResult(xsGlobal, xsID("__fwStart"), xsVar(0));
		}
		xsCatch {
			link_log("exception at start: %s", xsToString(xsException));
			fw_fatal("exception at start");
		}
		for (;;) {
			drain(the);
			if (done) {
				host_report_stats(the);
				fw_exit(FW_EXIT_DONE);
			}
			if (fire_timer(the)) continue;
			ack_now();
			fw_frame* f = link_poll();
			if (f) {
				dispatch(the, f);
				free(f);
				continue;
			}
			uint64_t t = fw_micros();
			__asm__ volatile("wfi"); /* the next SysTick (1 ms) */
			fw_idle_us += fw_micros() - t;
		}
	}
	xsEndHost(machine);
}
