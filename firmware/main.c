/* Power-on: start the clock and the link, say HELLO, take this power-on's arguments from the host
 * (which ran the bootloader on the flash file and knows the running slot), then run the runtime
 * bundle in XS until it finishes, restarts (SYSRESETREQ) or loses power. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "firmware.h"
#include "board.h"
#include "xs-host.h"

extern void initialise_monitor_handles(void);

/* The build's version string, in the HELLO frame; the bench of delta patches (bench/delta.ts)
 * builds the firmware twice with different -DFIRMWARE_VERSION values. */
#ifndef FIRMWARE_VERSION
#define FIRMWARE_VERSION "0.1.0"
#endif

int main(void) {
#ifdef BOARD_STM32F4
	link_init();
	/* a plain line before the frames: what renode/stm32f4-xs-ota.robot waits for */
	static const char banner[] = "xs-ota firmware " BOARD_NAME ": boot\n";
	link_raw(banner, sizeof(banner) - 1);
#else
	initialise_monitor_handles();
	link_init();
#endif
	fw_clock_start();
	char hello[192];
	int n = snprintf(hello, sizeof(hello), "{\"firmware\":\"xs-ota-qemu\",\"version\":\"" FIRMWARE_VERSION "\",\"board\":\"" BOARD_NAME "\",\"ramLimit\":%lu,\"arenaLimit\":%lu}", (unsigned long)fw_ram_limit(),
		(unsigned long)fw_heap_limit());
	link_send(TO_HOST_HELLO, hello, (size_t)n, NULL, 0);
	link_log("boot: RAM limit %lu bytes (arena %lu)", (unsigned long)fw_ram_limit(), (unsigned long)fw_heap_limit());
	host_run(link_wait(FROM_HOST_ARGS, FROM_HOST_ARGS)); /* frees the frame once XS has the text */
	return 0;
}
