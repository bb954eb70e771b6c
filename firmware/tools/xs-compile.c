/* Build-host tool: compiles a script with the XS parser of the same sources the firmware runs and
 * writes it in the firmware's precompiled format (../xsb.h). Usage: xs-compile in.js out.xsb
 * Built and run by host-sim/qemu/firmware-build.ts with the host's C compiler. */
#include "xsAll.h"
#include "xs.h"
#include "xsb.h"

void fxQueuePromiseJobs(txMachine* the) { the->promiseJobs = 1; }
void fxAbort(txMachine* the, int status) {
	fprintf(stderr, "xs-compile: XS abort %d\n", status);
	exit(2);
}

/* XS_CODE_CODE_n -> XS_CODE_CODE_ARCHIVE_n, XS_CODE_STRING_n -> XS_CODE_STRING_ARCHIVE_n; the walk is
 * fxRemapIDs's (xsRun.c). */
static void archive_opcodes(txByte* code, txSize size) {
	txByte* p = code;
	txByte* q = code + size;
	while (p < q) {
		txU1 op = *(txU1*)p;
		txS1 offset = gxCodeSizes[op];
		if (op >= XS_CODE_CODE_1 && op <= XS_CODE_CODE_4) *p = (txByte)(XS_CODE_CODE_ARCHIVE_1 + (op - XS_CODE_CODE_1));
		else if (op >= XS_CODE_STRING_1 && op <= XS_CODE_STRING_4) *p = (txByte)(XS_CODE_STRING_ARCHIVE_1 + (op - XS_CODE_STRING_1));
		if (0 < offset) p += offset;
		else if (0 == offset) p += 1 + sizeof(txID);
		else if (-1 == offset) {
			txU1 n = *(txU1*)(p + 1);
			p += 2 + n;
		} else if (-2 == offset) {
			txU2 n;
			p++;
			mxDecode2(p, n);
			p += n;
		} else {
			txS4 n;
			p++;
			mxDecode4(p, n);
			p += n;
		}
	}
}

static void put32(FILE* f, uint32_t v) {
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
	fwrite(b, 1, 4, f);
}

int main(int argc, char** argv) {
	if (argc != 3) {
		fprintf(stderr, "usage: xs-compile in.js out.xsb\n");
		return 1;
	}
	FILE* in = fopen(argv[1], "rb");
	if (!in) {
		perror(argv[1]);
		return 1;
	}
	fseek(in, 0, SEEK_END);
	long n = ftell(in);
	fseek(in, 0, SEEK_SET);
	char* source = malloc(n + 1);
	if (fread(source, 1, n, in) != (size_t)n) return 1;
	source[n] = 0;
	fclose(in);
	xsCreation creation = { 32 * 1024, 32 * 1024, 4096, 1024, 1024, 4096, 1024, 1993, 127, 64 * 1024, 1993, 0 };
	xsMachine* the = xsCreateMachine(&creation, "xs-compile", NULL);
	txStringCStream stream = { source, 0, (txSize)n };
	txScript* script = fxParseScript(the, &stream, fxStringCGetter, mxProgramFlag);
	if (!script || !script->codeBuffer) {
		fprintf(stderr, "xs-compile: %s: syntax error\n", argv[1]);
		return 1;
	}
	if (script->hostsBuffer) {
		fprintf(stderr, "xs-compile: %s: @host functions are not supported\n", argv[1]);
		return 1;
	}
	archive_opcodes(script->codeBuffer, script->codeSize);
	FILE* out = fopen(argv[2], "wb");
	if (!out) {
		perror(argv[2]);
		return 1;
	}
	fwrite(XSB_MAGIC, 1, 4, out);
	put32(out, (uint32_t)script->symbolsSize);
	put32(out, (uint32_t)script->codeSize);
	fwrite(script->symbolsBuffer, 1, script->symbolsSize, out);
	fwrite(script->codeBuffer, 1, script->codeSize, out);
	if (fclose(out)) return 1;
	printf("%s: %ld bytes of source -> %d bytes of symbols, %d bytes of code\n", argv[1], n, (int)script->symbolsSize, (int)script->codeSize);
	return 0;
}
