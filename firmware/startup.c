/* Reset handler, vector table and fault handlers for the Cortex-M4 (ARMv7-M: B1.5.3 vector table). */
#include <stdint.h>
#include <string.h>
#include "board.h"
#include "firmware.h"

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _stack_top;
extern int main(void);
extern void __libc_init_array(void);

void reset_handler(void);
void systick_handler(void);

static void fault_handler(void) {
	fw_fatal("hard fault");
}

__attribute__((section(".vectors"), used)) static void* const vectors[16] = {
	&_stack_top, reset_handler, fault_handler, fault_handler, fault_handler, fault_handler, fault_handler,
	0, 0, 0, 0, fault_handler, fault_handler, 0, fault_handler, systick_handler,
};

void reset_handler(void) {
	memcpy(&_sdata, &_sidata, (uint32_t)&_edata - (uint32_t)&_sdata);
	memset(&_sbss, 0, (uint32_t)&_ebss - (uint32_t)&_sbss);
	fw_paint_stack();
	__libc_init_array();
	fw_exit(main());
}

void _init(void) {}
void _fini(void) {}
