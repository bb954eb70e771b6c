*** Comments ***
The xs-ota firmware on Renode's STM32F4 (renode/stm32f4-xs-ota.repl). NOT RUN on this project's
machines (Renode and Robot Framework cannot be installed there). With renode-test:
    npm run build:firmware -- --board stm32f4
    renode-test renode/stm32f4-xs-ota.robot
The firmware speaks the link of host-sim/qemu/link.ts on USART2: it announces HELLO and waits for
the ARGS frame, which a Robot test cannot write (binary frames). This test checks the boot up to
that point; the update itself needs the host harness (host-sim/qemu/sim-engine.ts) attached to
the UART through Renode's socket terminal (emulation CreateServerSocketTerminal), not done here.

*** Variables ***
${UART}                 sysbus.usart2
${PLATFORM}             @renode/stm32f4-xs-ota.resc

*** Test Cases ***
Firmware Boots And Announces Itself
    Execute Command         include ${PLATFORM}
    Create Terminal Tester  ${UART}
    Start Emulation
    Wait For Line On Uart   xs-ota firmware stm32f4: boot
