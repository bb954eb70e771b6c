/* Shared declarations of the firmware's platform layer. */
#ifndef FIRMWARE_H
#define FIRMWARE_H
#include <stddef.h>
#include <stdint.h>

/* ---- exit codes (semihosting SYS_EXIT, the QEMU process's exit status) ---- */
#define FW_EXIT_DONE 0
#define FW_EXIT_FATAL 3
#define FW_EXIT_RAM 4

/* ---- system.c: clock, RAM budget, exit ---- */
void fw_clock_start(void);
uint32_t fw_millis(void);
uint64_t fw_micros(void);
/* Time spent waiting (WFI, waiting for the host on the UART): the rest is work. */
extern uint64_t fw_idle_us;
void fw_paint_stack(void);
size_t fw_stack_peak(void);
size_t fw_heap_peak(void); /* high-water mark of the malloc arena */
size_t fw_heap_now(void);
size_t fw_heap_limit(void);
size_t fw_ram_limit(void);
__attribute__((noreturn)) void fw_exit(int code);
__attribute__((noreturn)) void fw_fatal(const char* why);
__attribute__((noreturn)) void fw_out_of_ram(size_t wanted);
__attribute__((noreturn)) void fw_restart(void);
__attribute__((noreturn)) void fw_halt(void);

/* ---- link.c: framed messages over UART0 ---- */
/* Frame: 0xA5, type u8, length u32 LE, payload. Types below 0x80 go to the host, 0x80 and up come
 * from it (host-sim/qemu/link.ts has the same table). */
#define LINK_SYNC 0xA5
enum {
	TO_HOST_LOG = 0x01, /* UTF-8 line */
	TO_HOST_HELLO = 0x02, /* JSON {firmware, ramLimit, heapLimit} */
	TO_HOST_DONE = 0x03, /* u8 ok, JSON result */
	TO_HOST_RESTART = 0x04, /* SYSRESETREQ follows */
	TO_HOST_FLASH_OP = 0x05, /* u8 kind (1 write, 2 erase), 3 x 0, u32 address, u32 length; answered GO/CUT.
	                           * The data of a write is in the staging area of the PSRAM (fw_flash.staging) */
	TO_HOST_HTTP_OPEN = 0x06, /* u32 id, u32 JSON length, JSON request, body */
	TO_HOST_HTTP_CLOSE = 0x07, /* u32 id */
	TO_HOST_HTTP_ACK = 0x08, /* u32 id: a body fragment was handed to JS and its jobs ran */
	TO_HOST_REQUEST = 0x09, /* u8 op, JSON; answered ANSWER (preference, net) */
	TO_HOST_FATAL = 0x0A, /* UTF-8 reason; exit follows */
	TO_HOST_STATS = 0x0B, /* JSON {peakHeap, peakStack, ...} */
	TO_HOST_TRACE = 0x0C, /* UTF-8 text of trace() */

	FROM_HOST_GO = 0x81,
	FROM_HOST_CUT = 0x82, /* the power is lost at this flash operation: halt */
	FROM_HOST_ARGS = 0x83, /* JSON {args, config} of this power-on */
	FROM_HOST_HTTP_RESPONSE = 0x84, /* u32 id, u32 status, JSON [[name, value], ...] */
	FROM_HOST_HTTP_DATA = 0x85, /* u32 id, u32 PSRAM offset, u32 length: the body bytes are in the mailbox */
	FROM_HOST_HTTP_END = 0x86, /* u32 id */
	FROM_HOST_HTTP_ERROR = 0x87, /* u32 id, UTF-8 reason */
	FROM_HOST_ANSWER = 0x88, /* u8 status (0 bytes, 1 JSON, 2 error JSON, 3 void), payload */
	FROM_HOST_HALT = 0x89, /* power lost: stop once the events before it were handled */
};

/* Payload offsets of the frames with fixed fields (the table above). */
#define FLASH_OP_KIND 0
#define FLASH_OP_ADDRESS 4
#define FLASH_OP_LENGTH 8
#define FLASH_OP_SIZE 12
#define HTTP_ID 0 /* every HTTP frame starts with the request id */
#define HTTP_RESPONSE_STATUS 4
#define HTTP_RESPONSE_HEADERS 8
#define HTTP_DATA_OFFSET 4
#define HTTP_DATA_LENGTH 8
#define HTTP_ERROR_REASON 4

typedef struct fw_frame {
	struct fw_frame* next;
	uint8_t type;
	uint32_t length;
	uint8_t payload[];
} fw_frame;

void link_init(void);
void link_raw(const char* text, size_t n); /* bytes outside any frame (the host logs them) */
void link_send(uint8_t type, const void* a, size_t alen, const void* b, size_t blen);
void link_log(const char* fmt, ...);
/* Waits for a frame of `type` (an answer); event frames read meanwhile are queued. Caller frees. */
fw_frame* link_wait(uint8_t type1, uint8_t type2);
/* The next event frame (queued or on the UART) or NULL when none is there now. Caller frees. */
fw_frame* link_poll(void);
uint32_t rd32(const uint8_t* p);
void wr32(uint8_t* p, uint32_t v);

/* ---- flash.c: NOR rules on the file-backed PSRAM ---- */
typedef struct {
	uint32_t size;
	uint32_t sector;
	uint32_t align;
	uint8_t erased;
	uint32_t staging; /* PSRAM offset of the staging area (the data of an announced write) */
	uint32_t mailbox; /* PSRAM offset of the host's mailbox (HTTP body fragments) */
	uint32_t mailboxSize;
} fw_flash_geometry;
extern fw_flash_geometry fw_flash;
/* Return NULL or an error message (the host simulator's FlashRuleError text). */
const char* flash_read(uint32_t address, void* out, uint32_t length);
const char* flash_write(uint32_t address, const uint8_t* data, uint32_t length);
const char* flash_erase(uint32_t address, uint32_t length);
extern uint32_t fw_flash_ops;

/* ---- digests.c ---- */
typedef struct {
	uint32_t state[8];
	uint64_t bytes;
	uint8_t block[64];
	uint32_t used;
} sha256_ctx;
typedef struct {
	uint32_t state[4];
	uint64_t bytes;
	uint8_t block[64];
	uint32_t used;
} md5_ctx;
void sha256_init(sha256_ctx* c);
void sha256_update(sha256_ctx* c, const uint8_t* p, size_t n);
void sha256_final(sha256_ctx* c, uint8_t out[32]);
void md5_init(md5_ctx* c);
void md5_update(md5_ctx* c, const uint8_t* p, size_t n);
void md5_final(md5_ctx* c, uint8_t out[16]);
uint32_t crc32_update(uint32_t crc, const uint8_t* p, size_t n);

#endif
