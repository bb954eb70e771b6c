/*
 * FFI helper for the xs-ota ESP32 example (declared in manifest.json "ffi").
 * Moddable opens the running partition but does not tell its label, so the example asks ESP-IDF
 * which app partition is running. Returns the partition subtype (0x10 + n for ota_n, 0x00 for
 * factory) or -1. Untested on hardware: the Moddable SDK is not available where this was written.
 */
#include <stdint.h>
#include "esp_ota_ops.h"
#include "esp_partition.h"

int32_t xsota_running_subtype(void)
{
	const esp_partition_t *running = esp_ota_get_running_partition();
	return running ? (int32_t)running->subtype : -1;
}
