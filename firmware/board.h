/* mps2-an386 peripherals this firmware uses (ARM AN386 / QEMU hw/arm/mps2.c, hw/char/cmsdk-apb-uart.c):
 * CMSDK APB UART0 at 0x40004000, the Cortex-M4 SysTick and SCB (ARMv7-M ARM B3.2, B3.3), and the
 * PSRAM at 0x21000000 that the host backs with a file (the emulated NOR flash). */
#ifndef BOARD_H
#define BOARD_H
#include <stdint.h>

#ifdef BOARD_STM32F4
/* The retargeted build for Renode's STM32F4 (renode/stm32f4-xs-ota.repl): USART2 at 0x40004400
 * (RM0090 §30.6: SR TXE bit 7, RXNE bit 5; DR; BRR; CR1 UE bit 13, TE bit 3, RE bit 2), SysTick at
 * Renode's 72 MHz, the OTA flash memory-mapped at 0x90000000. Not run here. */
#define USART2_BASE 0x40004400u
#define USART_SR (*(volatile uint32_t*)(USART2_BASE + 0x00))
#define USART_DR (*(volatile uint32_t*)(USART2_BASE + 0x04))
#define USART_BRR (*(volatile uint32_t*)(USART2_BASE + 0x08))
#define USART_CR1 (*(volatile uint32_t*)(USART2_BASE + 0x0C))
static inline void uart_init(void) {
	USART_BRR = 0x271; /* 115200 baud at 72 MHz */
	USART_CR1 = (1u << 13) | (1u << 3) | (1u << 2);
}
static inline int uart_tx_full(void) { return !(USART_SR & (1u << 7)); }
static inline void uart_put(uint8_t b) { USART_DR = b; }
static inline int uart_rx_ready(void) { return (USART_SR & (1u << 5)) != 0; }
static inline uint8_t uart_get(void) { return (uint8_t)USART_DR; }
#define SYSCLK_HZ 72000000u
#define FLASH_BASE 0x90000000u
#define BOARD_NAME "stm32f4"
#else
#define UART0_BASE 0x40004000u
#define UART_DATA (*(volatile uint32_t*)(UART0_BASE + 0x00))
#define UART_STATE (*(volatile uint32_t*)(UART0_BASE + 0x04))
#define UART_CTRL (*(volatile uint32_t*)(UART0_BASE + 0x08))
#define UART_BAUDDIV (*(volatile uint32_t*)(UART0_BASE + 0x10))
#define UART_STATE_TXFULL 0x1u
#define UART_STATE_RXFULL 0x2u
#define UART_CTRL_TXEN 0x1u
#define UART_CTRL_RXEN 0x2u

static inline void uart_init(void) {
	UART_BAUDDIV = 16;
	UART_CTRL = UART_CTRL_TXEN | UART_CTRL_RXEN;
}
static inline int uart_tx_full(void) { return (UART_STATE & UART_STATE_TXFULL) != 0; }
static inline void uart_put(uint8_t b) { UART_DATA = b; }
static inline int uart_rx_ready(void) { return (UART_STATE & UART_STATE_RXFULL) != 0; }
static inline uint8_t uart_get(void) { return (uint8_t)UART_DATA; }
/* CMSDK APB timer 0 (ARM DDI 0479C §4.4: CTRL +0, VALUE +4, RELOAD +8), clocked at SYSCLK: a
 * free-running down counter for fine time (fw_micros), apart from SysTick's interrupts. */
#define TIMER0_CTRL (*(volatile uint32_t*)0x40000000u)
#define TIMER0_VALUE (*(volatile uint32_t*)0x40000004u)
#define TIMER0_RELOAD (*(volatile uint32_t*)0x40000008u)
#define HAVE_TIMER0 1
/* The system clock of the AN386 image in QEMU (mps2.c: SYSCLK_FRQ). */
#define SYSCLK_HZ 25000000u
#define FLASH_BASE 0x21000000u
#define BOARD_NAME "mps2-an386"
#endif

#define SYST_CSR (*(volatile uint32_t*)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t*)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t*)0xE000E018u)
#define SCB_ICSR (*(volatile uint32_t*)0xE000ED04u)
#define ICSR_PENDSTSET (1u << 26)
#define SCB_AIRCR (*(volatile uint32_t*)0xE000ED0Cu)
#define SCB_CPACR (*(volatile uint32_t*)0xE000ED88u)
#define AIRCR_SYSRESETREQ 0x05FA0004u

#define FLASH_WINDOW (16u * 1024u * 1024u)

#endif
