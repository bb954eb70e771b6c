// Applies a detools sequential patch (bsdiff chunks; compression none, heatshrink 8/7 or crle),
// optionally behind esp_delta_ota's 64-byte header, as it streams in: feed(piece) any number of
// times, then finish(). The old image is read through io.readOld (random access: adjustments
// seek backwards), the target goes out in order through io.write. Fixed memory: two 512-byte
// work buffers, the decoder's 256-byte window and a few numbers, whatever the image size.
// Formats: detools-sequential.ts, heatshrink-decoder.ts, crle-decoder.ts, esp-delta-header.ts.
//
// Resume: snapshot() serialises the whole apply state (apply-state.ts, 404 bytes):
// patch position, stage and partial size field, decoder state with its window, old-image
// position, target position, the esp header progress. It is exact at any point between two
// feed() calls and inside io.checkpoint, so every instant is a safe point; resume(state) then
// continues from the patch byte `patchOffset` and writes target bytes from `targetOffset` on.
// io.checkpoint is called each time the target reaches a multiple of `checkpointEvery` (the
// writer's durable unit, e.g. a flash sector): every target byte before it has gone through
// io.write and nothing after it, so the caller can flush its writer and journal the snapshot.
// A cut then costs the patch bytes between that checkpoint and the cut, fetched again.
//
// Errors: anything wrong with the patch is an OtaError -3 (verify failed) with the reason; a
// patch for another base image is refused before the first write. After an error the applier
// refuses further input (resume from a snapshot instead).

import { ErrorCode, OtaError } from "../errors.ts";
import { equalBytes, toHex } from "../util/bytes.ts";
import { DECODER_STATE_BYTES, decodeApplyState, encodeApplyState } from "./apply-state.ts";
import { CrleDecoder, CrleError } from "./crle-decoder.ts";
import {
  COMPRESSION_MASK,
  Compression,
  HEATSHRINK_PARAMS_8_7,
  PATCH_TYPE_MASK,
  PATCH_TYPE_SEQUENTIAL,
  PATCH_TYPE_SHIFT,
  SIZE_MAX_BYTES,
  compressionName,
} from "./detools-sequential.ts";
import {
  ESP_DELTA_BASE_SHA256_SIZE,
  ESP_DELTA_HEADER_SIZE,
  ESP_DELTA_MAGIC,
  espDeltaBaseSha256,
  espDeltaMagic,
} from "./esp-delta-header.ts";
import { HeatshrinkDecoder, type ByteCursor } from "./heatshrink-decoder.ts";

export { APPLY_STATE_BYTES, applyStateInfo } from "./apply-state.ts";

export interface PatchIo {
  /** Exactly `length` bytes of the old (running) image at `offset`; [offset, offset + length) is
   * always inside [0, oldSize). */
  readOld(offset: number, length: number): Uint8Array;
  /** The next target bytes, in order. The array is reused after the call: copy what you keep. */
  write(bytes: Uint8Array): void;
  /** The target reached `targetOffset`, a multiple of `checkpointEvery`: a safe point (see top). */
  checkpoint?(targetOffset: number): void;
}

export interface PatchApplyOptions {
  /** Size of the old image: reads outside it are a corrupt patch. */
  oldSize: number;
  /** The patch starts with esp_delta_ota's 64-byte header; `baseSha256` is then required. */
  espHeader?: boolean;
  /** SHA-256 of the running image as the header names it (esp-delta-header.ts). */
  baseSha256?: Uint8Array;
  /** A target larger than this (the slot) is refused before the first write. */
  maxTargetSize?: number;
  /** Target bytes between io.checkpoint calls; 0 or absent: never. */
  checkpointEvery?: number;
}

// Stages of the apply state machine (apply_patch_process_once in c/detools.c, plus the headers).
const ESP_HEADER = 0;
const FIXED_HEADER = 1;
const TO_SIZE = 2;
const HEATSHRINK_PARAMS = 3;
const DATA_FORMAT_SIZE = 4;
const DIFF_SIZE = 5;
const DIFF_DATA = 6;
const EXTRA_SIZE = 7;
const EXTRA_DATA = 8;
const ADJUSTMENT = 9;
const DONE = 10;

/** Old-image bytes read (and target bytes written) per step; detools' C library uses 128. */
const WORK_BUFFER_SIZE = 512;
const EMPTY = new Uint8Array(0);
const INT32_MAX = 0x7fffffff;

function corrupt(reason: string): OtaError {
  return new OtaError(ErrorCode.VerifyFailed, `delta patch: ${reason}`);
}

export class PatchApplier {
  private readonly src: ByteCursor = { bytes: EMPTY, pos: 0 };
  private readonly work = new Uint8Array(WORK_BUFFER_SIZE);
  private readonly work32 = new Int32Array(this.work.buffer);
  private readonly oldWork = new Uint8Array(WORK_BUFFER_SIZE);
  private readonly oldWork32 = new Int32Array(this.oldWork.buffer);
  private readonly espHeader = new Uint8Array(ESP_DELTA_HEADER_SIZE);
  private readonly baseSha256 = new Uint8Array(ESP_DELTA_BASE_SHA256_SIZE);
  private readonly heatshrink: HeatshrinkDecoder;
  private readonly crle: CrleDecoder;
  private readonly oldSize: number;
  private readonly hasEspHeader: boolean;
  private readonly maxTargetSize: number;
  private readonly every: number;
  private stage: number;
  private compression = Compression.none as number;
  /** Patch bytes consumed before the current feed() call. */
  private feedBase = 0;
  private espCount = 0;
  private toSize_ = 0;
  private target = 0;
  private oldPos = 0;
  private remaining = 0;
  private sizeValue = 0;
  private sizeBytes = 0;
  private sizeNeg = 0;
  private nextCheckpoint = 0;
  private failure: unknown = undefined;

  constructor(
    private readonly io: PatchIo,
    options: PatchApplyOptions,
  ) {
    if (!(Number.isInteger(options.oldSize) && options.oldSize >= 0 && options.oldSize <= INT32_MAX)) throw new RangeError("oldSize must be a size");
    this.oldSize = options.oldSize;
    this.hasEspHeader = options.espHeader === true;
    if (this.hasEspHeader) {
      if (!options.baseSha256 || options.baseSha256.length !== ESP_DELTA_BASE_SHA256_SIZE) throw new RangeError("an esp_delta_ota patch needs the running image's SHA-256");
      this.baseSha256.set(options.baseSha256);
    }
    this.maxTargetSize = options.maxTargetSize ?? Infinity;
    this.every = options.checkpointEvery && options.checkpointEvery > 0 ? options.checkpointEvery : 0;
    this.stage = this.hasEspHeader ? ESP_HEADER : FIXED_HEADER;
    this.heatshrink = new HeatshrinkDecoder(this.src);
    this.crle = new CrleDecoder(this.src);
    this.nextCheckpoint = this.every;
  }

  /** Continues from snapshot() bytes; `options` must name the same old image (and base digest). */
  static resume(state: Uint8Array, io: PatchIo, options: PatchApplyOptions): PatchApplier {
    const st = decodeApplyState(state);
    const a = new PatchApplier(io, options);
    if (st.oldSize !== a.oldSize || st.espHeader !== a.hasEspHeader || (st.espHeader && !equalBytes(st.baseSha256, a.baseSha256))) {
      throw new OtaError(ErrorCode.UpdateFailed, "delta apply state is for another base image");
    }
    a.stage = st.stage;
    a.compression = st.compression;
    a.feedBase = st.patchOffset;
    a.toSize_ = st.toSize;
    a.target = st.target;
    a.oldPos = st.oldPos;
    a.remaining = st.remaining;
    a.sizeValue = st.sizeValue;
    a.sizeBytes = st.sizeBytes;
    a.sizeNeg = st.sizeNeg;
    a.espCount = st.espCount;
    a.espHeader.set(st.espHeaderBytes);
    const decoderOk = a.compression === Compression.crle ? a.crle.load(st.decoder, 0) : a.heatshrink.load(st.decoder, 0);
    if (a.stage > DONE || a.espCount > ESP_DELTA_HEADER_SIZE || a.target > a.toSize_ || !decoderOk) {
      throw new OtaError(ErrorCode.UpdateFailed, "delta apply state is inconsistent");
    }
    if (a.every) a.nextCheckpoint = (Math.floor(a.target / a.every) + 1) * a.every;
    return a;
  }

  /** Patch bytes consumed so far: a resumed apply continues with the patch from here. */
  get patchOffset(): number {
    return this.feedBase + this.src.pos;
  }

  /** Target bytes written so far. */
  get targetOffset(): number {
    return this.target;
  }

  /** The target's size once the patch header has been read (0 before). */
  get toSize(): number {
    return this.toSize_;
  }

  /** Whether the patch is complete (all of the target written). */
  get done(): boolean {
    return this.stage === DONE;
  }

  /** Takes the next patch bytes (any size, including 0). Throws OtaError -3 on a bad patch. */
  feed(piece: Uint8Array): void {
    if (this.failure !== undefined) throw new OtaError(ErrorCode.UpdateFailed, "delta apply stopped by an earlier error");
    this.src.bytes = piece;
    this.src.pos = 0;
    try {
      this.run();
    } catch (e) {
      this.failure = e;
      throw e;
    } finally {
      this.feedBase += this.src.pos;
      this.src.bytes = EMPTY;
      this.src.pos = 0;
    }
  }

  /** After the last piece: the target size when the patch was complete, else OtaError -3. */
  finish(): number {
    if (this.failure !== undefined) throw new OtaError(ErrorCode.UpdateFailed, "delta apply stopped by an earlier error");
    if (this.stage !== DONE) {
      throw corrupt(
        this.stage < DATA_FORMAT_SIZE
          ? `the patch ended inside its header (${this.patchOffset} bytes)`
          : this.target === this.toSize_
            ? "the patch ended inside its last chunk (before the adjustment)"
            : `the patch ended early: ${this.target} of ${this.toSize_} target bytes written`,
      );
    }
    return this.toSize_;
  }

  /** The whole apply state (APPLY_STATE_BYTES bytes); see the top of the file. */
  snapshot(): Uint8Array {
    if (this.failure !== undefined) throw new OtaError(ErrorCode.UpdateFailed, "delta apply stopped by an earlier error");
    const decoder = new Uint8Array(DECODER_STATE_BYTES);
    if (this.compression === Compression.crle) this.crle.save(decoder, 0);
    else this.heatshrink.save(decoder, 0);
    return encodeApplyState({
      stage: this.stage,
      compression: this.compression,
      espHeader: this.hasEspHeader,
      patchOffset: this.patchOffset,
      toSize: this.toSize_,
      target: this.target,
      oldPos: this.oldPos,
      oldSize: this.oldSize,
      remaining: this.remaining,
      sizeValue: this.sizeValue,
      sizeBytes: this.sizeBytes,
      sizeNeg: this.sizeNeg,
      espCount: this.espCount,
      baseSha256: this.baseSha256,
      espHeaderBytes: this.espHeader,
      decoder,
    });
  }

  /** Next raw (not decompressed) patch byte, or -1 when this piece is used up. */
  private rawByte(): number {
    const src = this.src;
    return src.pos < src.bytes.length ? src.bytes[src.pos++] : -1;
  }

  /** Up to `max` decompressed payload bytes into out[start...]; 0 when the input is used up. */
  private pull(out: Uint8Array, start: number, max: number): number {
    switch (this.compression) {
      case Compression.heatshrink:
        return this.heatshrink.read(out, start, max);
      case Compression.crle:
        try {
          return this.crle.read(out, start, max);
        } catch (e) {
          if (e instanceof CrleError) throw corrupt(e.message);
          throw e;
        }
      default: {
        const src = this.src;
        let n = src.bytes.length - src.pos;
        if (n > max) n = max;
        out.set(src.bytes.subarray(src.pos, src.pos + n), start);
        src.pos += n;
        return n;
      }
    }
  }

  /** Reads a size field byte by byte (raw: the to-size, else from the payload). True when
   * complete, the value then in sizeValue (negative when the sign bit was set). */
  private readSize(raw: boolean): boolean {
    const work = this.work;
    for (;;) {
      let b: number;
      if (raw) {
        b = this.rawByte();
        if (b < 0) return false;
      } else {
        if (this.pull(work, 0, 1) === 0) return false;
        b = work[0];
      }
      if (this.sizeBytes === 0) {
        this.sizeNeg = raw ? 0 : (b >> 6) & 1;
        this.sizeValue = b & 0x3f;
      } else {
        this.sizeValue += (b & 0x7f) * 2 ** (6 + 7 * (this.sizeBytes - 1));
      }
      this.sizeBytes++;
      if ((b & 0x80) === 0) {
        this.sizeBytes = 0;
        if (this.sizeNeg) this.sizeValue = -this.sizeValue;
        this.sizeNeg = 0;
        return true;
      }
      if (this.sizeBytes === SIZE_MAX_BYTES) throw corrupt(`a size field is longer than ${SIZE_MAX_BYTES} bytes`);
    }
  }

  /** Target bytes the next step may produce without passing a checkpoint. */
  private room(n: number): number {
    if (n > WORK_BUFFER_SIZE) n = WORK_BUFFER_SIZE;
    if (this.every) {
      const left = this.nextCheckpoint - this.target;
      if (n > left) n = left;
    }
    return n;
  }

  /** Writes work[0, n) as the next target bytes (state already updated for them). */
  private emit(n: number): void {
    this.io.write(this.work.subarray(0, n));
    this.target += n;
    if (this.every && this.target === this.nextCheckpoint) {
      this.nextCheckpoint += this.every;
      this.io.checkpoint?.(this.target);
    }
  }

  private run(): void {
    const src = this.src;
    for (;;) {
      switch (this.stage) {
        case ESP_HEADER: {
          let n = ESP_DELTA_HEADER_SIZE - this.espCount;
          const avail = src.bytes.length - src.pos;
          if (avail === 0) return;
          if (n > avail) n = avail;
          this.espHeader.set(src.bytes.subarray(src.pos, src.pos + n), this.espCount);
          src.pos += n;
          this.espCount += n;
          if (this.espCount < ESP_DELTA_HEADER_SIZE) return;
          const magic = espDeltaMagic(this.espHeader);
          if (magic !== ESP_DELTA_MAGIC) throw corrupt(`not an esp_delta_ota patch (magic 0x${magic.toString(16)}, expected 0x${ESP_DELTA_MAGIC.toString(16)})`);
          const named = espDeltaBaseSha256(this.espHeader);
          if (!equalBytes(named, this.baseSha256)) {
            throw corrupt(`the patch is for another base image (SHA-256 ${toHex(named)}; the running image is ${toHex(this.baseSha256)})`);
          }
          this.stage = FIXED_HEADER;
          break;
        }
        case FIXED_HEADER: {
          const b = this.rawByte();
          if (b < 0) return;
          const type = (b >> PATCH_TYPE_SHIFT) & PATCH_TYPE_MASK;
          if (type !== PATCH_TYPE_SEQUENTIAL) throw corrupt(`patch type ${type} is not supported (only 0, sequential)`);
          const c = b & COMPRESSION_MASK;
          if (c !== Compression.none && c !== Compression.heatshrink && c !== Compression.crle) {
            throw corrupt(`compression ${compressionName(c)} is not supported (none, heatshrink 8/7 and crle are)`);
          }
          this.compression = c;
          this.stage = TO_SIZE;
          break;
        }
        case TO_SIZE: {
          if (!this.readSize(true)) return;
          this.toSize_ = this.sizeValue;
          if (this.toSize_ > this.maxTargetSize) throw corrupt(`the target (${this.toSize_} bytes) does not fit the slot (${this.maxTargetSize} bytes)`);
          this.stage = this.toSize_ === 0 ? DONE : this.compression === Compression.heatshrink ? HEATSHRINK_PARAMS : DATA_FORMAT_SIZE;
          break;
        }
        case HEATSHRINK_PARAMS: {
          const b = this.rawByte();
          if (b < 0) return;
          if (b !== HEATSHRINK_PARAMS_8_7) {
            throw corrupt(`heatshrink window 2^${(b >> 4) + 4}, lookahead 2^${(b & 15) + 3} is not supported (only 8/7, as detools' C library and esp_delta_ota are built)`);
          }
          this.stage = DATA_FORMAT_SIZE;
          break;
        }
        case DATA_FORMAT_SIZE:
          if (!this.readSize(false)) return;
          if (this.sizeValue !== 0) throw corrupt(`data-format sub-patches are not supported (size ${this.sizeValue})`);
          this.stage = DIFF_SIZE;
          break;
        case DIFF_SIZE:
        case EXTRA_SIZE: {
          const diff = this.stage === DIFF_SIZE;
          if (!this.readSize(false)) return;
          const size = this.sizeValue;
          if (size < 0 || this.target + size > this.toSize_) {
            throw corrupt(`${diff ? "diff" : "extra"} size ${size} at target offset ${this.target} runs past the target size ${this.toSize_}`);
          }
          this.remaining = size;
          this.stage = diff ? DIFF_DATA : EXTRA_DATA;
          break;
        }
        case DIFF_DATA: {
          if (this.remaining === 0) {
            this.stage = EXTRA_SIZE;
            break;
          }
          const got = this.pull(this.work, 0, this.room(this.remaining));
          if (got === 0) return;
          const at = this.oldPos;
          if (at < 0 || at + got > this.oldSize) throw corrupt(`diff reads old bytes [${at}, ${at + got}) outside the old image (${this.oldSize} bytes)`);
          const old = this.io.readOld(at, got);
          if (old.length < got) throw new OtaError(ErrorCode.FlashWriteFailed, `old image read at ${at} gave ${old.length} of ${got} bytes`);
          // Byte-wise addition modulo 256, four lanes per 32-bit word (no carry between lanes);
          // the bytes past `got` in the last word are never written out.
          this.oldWork.set(old.subarray(0, got));
          const a32 = this.work32;
          const b32 = this.oldWork32;
          for (let i = 0, words = (got + 3) >> 2; i < words; i++) {
            const a = a32[i];
            const b = b32[i];
            a32[i] = ((a & 0x7f7f7f7f) + (b & 0x7f7f7f7f)) ^ ((a ^ b) & 0x80808080);
          }
          this.oldPos = at + got;
          this.remaining -= got;
          this.emit(got);
          break;
        }
        case EXTRA_DATA: {
          if (this.remaining === 0) {
            this.stage = ADJUSTMENT;
            break;
          }
          const got = this.pull(this.work, 0, this.room(this.remaining));
          if (got === 0) return;
          this.remaining -= got;
          this.emit(got);
          break;
        }
        case ADJUSTMENT: {
          if (!this.readSize(false)) return;
          const pos = this.oldPos + this.sizeValue;
          if (pos < -INT32_MAX || pos > INT32_MAX) throw corrupt(`adjustment ${this.sizeValue} moves the old-image position out of range`);
          this.oldPos = pos;
          if (this.target < this.toSize_) {
            this.stage = DIFF_SIZE;
            break;
          }
          if (this.heatshrink.pendingOutput || (this.compression === Compression.crle && this.crle.pendingOutput)) {
            throw corrupt("data after the patch's end (the payload decodes to more than the chunks use)");
          }
          this.stage = DONE;
          break;
        }
        default:
          if (src.pos < src.bytes.length) throw corrupt(`${src.bytes.length - src.pos} byte(s) after the patch's end at offset ${this.patchOffset}`);
          return;
      }
    }
  }
}
