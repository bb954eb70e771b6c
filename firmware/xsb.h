/* The precompiled-script format of this firmware ("XSB1"), written on the build host by
 * tools/xs-compile.c and run by xs-host.c. All integers little-endian.
 *
 *   +0   4 bytes  magic "XSB1"
 *   +4   u32      symbolsSize   bytes of the symbol table (XS's txScript.symbolsBuffer:
 *                               an ID count, then NUL-terminated names; xs/sources/xsRun.c fxRunScript)
 *   +8   u32      codeSize      bytes of bytecode (txScript.codeBuffer)
 *   +12  symbols, then code
 *
 * The bytecode is XS's own (xs/sources/xsCommon.h opcodes) as the parser of the same XS sources
 * produces it, with every XS_CODE_CODE_n and XS_CODE_STRING_n rewritten to its _ARCHIVE_n twin, so
 * that functions and strings are used in place rather than copied into the XS heap (what Moddable's
 * archives do). The symbol IDs in the code are the script's own; the firmware maps them to the
 * machine's IDs in place at boot (xs/sources/xsRun.c fxRemapIDs). */
#ifndef XSB_H
#define XSB_H

#define XSB_MAGIC "XSB1"
#define XSB_MAGIC_OFFSET 0
#define XSB_SYMBOLS_SIZE_OFFSET 4
#define XSB_CODE_SIZE_OFFSET 8
#define XSB_HEADER_SIZE 12

#endif
