/* mps2-an386 peripherals this firmware uses (ARM AN386 / QEMU hw/arm/mps2.c, hw/char/cmsdk-apb-uart.c):
 * CMSDK APB UART0 at 0x40004000, the Cortex-M4 SysTick and SCB (ARMv7-M ARM B3.2, B3.3), and the
 * PSRAM at 0x21000000 that the host backs with a file (the emulated NOR flash). */
#ifndef BOARD_H
#define BOARD_H
#include <stdint.h>

#define UART0_BASE 0x40004000u
#define UART_DATA (*(volatile uint32_t*)(UART0_BASE + 0x00))
#define UART_STATE (*(volatile uint32_t*)(UART0_BASE + 0x04))
#define UART_CTRL (*(volatile uint32_t*)(UART0_BASE + 0x08))
#define UART_BAUDDIV (*(volatile uint32_t*)(UART0_BASE + 0x10))
#define UART_STATE_TXFULL 0x1u
#define UART_STATE_RXFULL 0x2u
#define UART_CTRL_TXEN 0x1u
#define UART_CTRL_RXEN 0x2u

#define SYST_CSR (*(volatile uint32_t*)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t*)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t*)0xE000E018u)
#define SCB_AIRCR (*(volatile uint32_t*)0xE000ED0Cu)
#define SCB_CPACR (*(volatile uint32_t*)0xE000ED88u)
#define AIRCR_SYSRESETREQ 0x05FA0004u

/* The system clock of the AN386 image in QEMU (mps2.c: SYSCLK_FRQ). */
#define SYSCLK_HZ 25000000u

#define FLASH_BASE 0x21000000u
#define FLASH_WINDOW (16u * 1024u * 1024u)

#endif
