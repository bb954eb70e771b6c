/* Clock (SysTick), the RAM budget (_sbrk bounded by the linker's _heap_end), exit and reset. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "board.h"
#include "firmware.h"

extern uint8_t _heap_start, _heap_end, _stack_top, _ram_end;
extern uint8_t _sdata;

static volatile uint32_t ticks_ms;
static uint8_t* brk_now = &_heap_start;
static uint8_t* brk_peak = &_heap_start;
static size_t stack_size_bytes(void) { return (size_t)(&_stack_top - &_heap_end); }

#define TICK_RELOAD (SYSCLK_HZ / 1000u)

void systick_handler(void) { ticks_ms++; }

#ifdef HAVE_TIMER0
static uint32_t timer_last = 0xFFFFFFFFu;
static uint64_t timer_cycles;
#endif

void fw_clock_start(void) {
	SYST_RVR = TICK_RELOAD - 1;
	SYST_CVR = 0;
	SYST_CSR = 0x7; /* processor clock, interrupt, enable */
#ifdef HAVE_TIMER0
	TIMER0_RELOAD = 0xFFFFFFFFu;
	TIMER0_VALUE = 0xFFFFFFFFu;
	TIMER0_CTRL = 1;
#endif
}

uint32_t fw_millis(void) { return ticks_ms; }
uint64_t fw_idle_us;

uint64_t fw_micros(void) {
#ifdef HAVE_TIMER0
	/* main context only (not from interrupts); read at least once per 171 s (2^32 cycles) */
	uint32_t now = TIMER0_VALUE;
	timer_cycles += (uint32_t)(timer_last - now);
	timer_last = now;
	return timer_cycles / (SYSCLK_HZ / 1000000u);
#else
	uint32_t ms, cvr, pending;
	do {
		ms = ticks_ms;
		cvr = SYST_CVR;
		pending = SCB_ICSR & ICSR_PENDSTSET;
	} while (ms != ticks_ms);
	/* the counter reloaded but its interrupt has not run yet: that millisecond is over */
	if (pending && cvr > TICK_RELOAD / 2) ms++;
	return (uint64_t)ms * 1000u + (uint64_t)(TICK_RELOAD - 1 - cvr) * 1000u / TICK_RELOAD;
#endif
}

/* newlib's malloc grows its arena here: the arena may not pass _heap_end (RAM_LIMIT minus the
 * stack). Exceeding it is loud and final: a FATAL frame naming the budget, exit FW_EXIT_RAM. */
void* _sbrk(ptrdiff_t increment) {
	static int failing;
	uint8_t* old = brk_now;
	if (increment > 0 && (size_t)(&_heap_end - brk_now) < (size_t)increment) {
		errno = ENOMEM;
		if (failing) return (void*)-1; /* the report itself ran out */
		failing = 1;
		fw_out_of_ram((size_t)increment); /* loud: a message on the UART and exit FW_EXIT_RAM */
	}
	brk_now += increment;
	if (brk_now > brk_peak) brk_peak = brk_now;
	return old;
}

size_t fw_heap_peak(void) { return (size_t)(brk_peak - &_heap_start); }
size_t fw_heap_now(void) { return (size_t)(brk_now - &_heap_start); }
size_t fw_heap_limit(void) { return (size_t)(&_heap_end - &_heap_start); }
size_t fw_ram_limit(void) { return (size_t)(&_ram_end - &_sdata); }

#define STACK_PAINT 0xC5C5C5C5u
void fw_paint_stack(void) {
	uint32_t* p = (uint32_t*)&_heap_end;
	uint32_t* sp;
	__asm__ volatile("mov %0, sp" : "=r"(sp));
	while (p < sp - 16) *p++ = STACK_PAINT;
}
size_t fw_stack_peak(void) {
	uint32_t* p = (uint32_t*)&_heap_end;
	while (p < (uint32_t*)&_stack_top && *p == STACK_PAINT) p++;
	(void)stack_size_bytes;
	return (size_t)((uint8_t*)&_stack_top - (uint8_t*)p);
}

void fw_exit(int code) {
#ifdef BOARD_STM32F4
	link_log("exit %d", code); /* no semihosting on the retargeted build */
	fw_halt();
#else
	exit(code); /* newlib rdimon: SYS_EXIT, the QEMU process exits with `code` */
	for (;;) {}
#endif
}

void fw_fatal(const char* why) {
	link_log("FATAL: %s", why);
	link_send(TO_HOST_FATAL, why, strlen(why), NULL, 0);
	fw_exit(FW_EXIT_FATAL);
}

void fw_out_of_ram(size_t wanted) {
	char text[160];
	snprintf(text, sizeof(text), "RAM budget exceeded: %u bytes more wanted, arena %u of %u bytes in use (RAM limit %u bytes)",
		(unsigned)wanted, (unsigned)fw_heap_peak(), (unsigned)fw_heap_limit(), (unsigned)fw_ram_limit());
	link_log("FATAL: %s", text);
	link_send(TO_HOST_FATAL, text, strlen(text), NULL, 0);
	fw_exit(FW_EXIT_RAM);
}

void fw_restart(void) {
	link_log("restart: SYSRESETREQ");
	link_send(TO_HOST_RESTART, NULL, 0, NULL, 0);
	__asm__ volatile("dsb");
	SCB_AIRCR = AIRCR_SYSRESETREQ;
	__asm__ volatile("dsb");
	for (;;) {}
}

void fw_halt(void) {
	__asm__ volatile("cpsid i");
	for (;;) __asm__ volatile("wfi");
}
