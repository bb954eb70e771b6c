/* The emulated NOR flash: the file-backed PSRAM window at FLASH_BASE (board.h), with the rules
 * host-sim/flash/nor-flash.ts enforces, and the same error texts: a write only clears bits,
 * writes are aligned to `align`, erases cover whole sectors and set them to `erased`. Every write
 * and every erased sector is one flash operation: it is announced to the host (TO_HOST_FLASH_OP;
 * the data of a write is first copied to the staging area past the flash in the same file-backed
 * PSRAM, where the host reads it: shared memory, as a DMA buffer) and done only on GO; on CUT the power is lost at that operation and
 * the firmware halts (the host kills QEMU and applies the torn operation the simulator's way). */
#include <stdio.h>
#include <string.h>
#include "board.h"
#include "firmware.h"

fw_flash_geometry fw_flash = { 0, 4096, 4, 0xFF, 0, 0, 0 };
uint32_t fw_flash_ops;

static char message[160];
#define FLASH_AT(a) ((volatile uint8_t*)(FLASH_BASE + (a)))

static const char* bounds(uint32_t address, uint32_t length) {
	if (fw_flash.size == 0 || fw_flash.size > FLASH_WINDOW) return "flash not configured";
	if (address > fw_flash.size || length > fw_flash.size - address) {
		snprintf(message, sizeof(message), "access [0x%lx, +0x%lx) outside the flash", (unsigned long)address, (unsigned long)length);
		return message;
	}
	return NULL;
}

const char* flash_read(uint32_t address, void* out, uint32_t length) {
	const char* e = bounds(address, length);
	if (e) return e;
	memcpy(out, (const void*)FLASH_AT(address), length);
	return NULL;
}

/* Announces operation number ++fw_flash_ops and waits for the host's verdict. */
static void begin_op(uint8_t kind, uint32_t address, uint32_t length, const uint8_t* data) {
	uint8_t head[FLASH_OP_SIZE] = { 0 };
	head[FLASH_OP_KIND] = kind;
	wr32(head + FLASH_OP_ADDRESS, address);
	wr32(head + FLASH_OP_LENGTH, length);
	fw_flash_ops++;
	if (data) memcpy((void*)FLASH_AT(fw_flash.staging), data, length);
	link_send(TO_HOST_FLASH_OP, head, sizeof(head), NULL, 0);
	fw_frame* f = link_wait(FROM_HOST_GO, FROM_HOST_CUT);
	uint8_t verdict = f->type;
	free(f);
	if (verdict == FROM_HOST_CUT) fw_halt();
}

const char* flash_write(uint32_t address, const uint8_t* data, uint32_t length) {
	const char* e = bounds(address, length);
	if (e) return e;
	if (length > fw_flash.mailbox - fw_flash.staging) return "write larger than the staging area";
	uint32_t a = fw_flash.align;
	if (address % a || length % a) {
		snprintf(message, sizeof(message), "misaligned write of %lu bytes at 0x%lx (alignment %lu)", (unsigned long)length, (unsigned long)address, (unsigned long)a);
		return message;
	}
	for (uint32_t i = 0; i < length; i++) {
		uint8_t old = *FLASH_AT(address + i);
		if (data[i] & (uint8_t)~old) {
			snprintf(message, sizeof(message), "write at 0x%lx sets bits 0->1 (0x%x -> 0x%x): erase first", (unsigned long)(address + i), old, data[i]);
			return message;
		}
	}
	begin_op(1, address, length, data);
	for (uint32_t i = 0; i < length; i++) *FLASH_AT(address + i) &= data[i];
	return NULL;
}

const char* flash_erase(uint32_t address, uint32_t length) {
	const char* e = bounds(address, length);
	if (e) return e;
	uint32_t s = fw_flash.sector;
	if (address % s) {
		snprintf(message, sizeof(message), "erase at 0x%lx is not on a sector start", (unsigned long)address);
		return message;
	}
	if (length % s) {
		snprintf(message, sizeof(message), "erase length 0x%lx does not end on a sector boundary", (unsigned long)length);
		return message;
	}
	for (uint32_t at = address; at < address + length; at += s) {
		begin_op(2, at, s, NULL);
		memset((void*)FLASH_AT(at), fw_flash.erased, s);
	}
	return NULL;
}
