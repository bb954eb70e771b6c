// One power-on of the emulated board: a fresh `qemu-system-arm -M mps2-an386` process running the
// firmware ELF, with the board's flash file as the machine's PSRAM (memory-backend-file,
// share=on: what the firmware writes lands in the file and survives the process) and UART0 on
// the process's stdin/stdout (the link, link.ts). -no-reboot turns the firmware's SYSRESETREQ
// into the end of the process: the next power-on is a new process, RAM lost.

import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { FrameReader, encodeFrame, type Frame } from "./link.ts";

export const QEMU = "qemu-system-arm";
/** The PSRAM of mps2-an386 (qemu hw/arm/mps2.c: machine RAM, 16 MiB at 0x21000000). */
export const PSRAM_SIZE = 16 * 1024 * 1024;

export interface QemuOptions {
  elf: string;
  flashFile: string;
  /** Where the semihosting console goes (newlib's stdout/stderr): a file, never the UART's pipe,
   * so that nothing can interleave with the link's frames. */
  semihostingLog: string;
  /** -icount shift=N (deterministic instruction counting: 1 ns of virtual time per
   * 2^N instructions); default off (real time). */
  icount?: number;
  onFrame: (f: Frame) => void;
  onNoise?: (text: string) => void;
  onExit: (code: number | null, signal: NodeJS.Signals | null, stderr: string) => void;
}

export class QemuProcess {
  private readonly child: ChildProcessWithoutNullStreams;
  private exited = false;
  private stderr = "";

  constructor(o: QemuOptions) {
    const args = [
      "-M", "mps2-an386,memory-backend=flash",
      "-object", `memory-backend-file,id=flash,size=${PSRAM_SIZE},mem-path=${o.flashFile},share=on`,
      "-display", "none", "-monitor", "none", "-serial", "stdio",
      "-chardev", `file,id=semihosting,path=${o.semihostingLog}`,
      "-semihosting-config", "enable=on,target=native,chardev=semihosting",
      "-no-reboot",
      "-kernel", o.elf,
    ];
    if (o.icount !== undefined) args.push("-icount", `shift=${o.icount},align=off,sleep=off`);
    this.child = spawn(QEMU, args, { stdio: ["pipe", "pipe", "pipe"] });
    const dec = new TextDecoder();
    const reader = new FrameReader(o.onFrame, (b) => o.onNoise?.(dec.decode(b)));
    this.child.stdout.on("data", (d: Buffer) => reader.push(new Uint8Array(d.buffer, d.byteOffset, d.byteLength)));
    this.child.stderr.on("data", (d: Buffer) => {
      this.stderr += String(d);
    });
    this.child.stdin.on("error", () => undefined); // the process is gone: its exit is reported
    this.child.on("error", (e) => {
      this.stderr += `${e.message}\n`;
    });
    this.child.on("close", (code, signal) => {
      this.exited = true;
      o.onExit(code, signal, this.stderr);
    });
  }

  send(type: number, ...parts: Uint8Array[]): void {
    if (!this.exited) this.child.stdin.write(encodeFrame(type, ...parts));
  }

  /** Power off now (SIGKILL): the flash file keeps what was written. */
  kill(): void {
    if (!this.exited) this.child.kill("SIGKILL");
  }

  get alive(): boolean {
    return !this.exited;
  }
}
