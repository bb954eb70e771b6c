// Local upgrade, mirroring QuecPython's `fota` local mode for images that arrive over UART or
// BLE instead of a download:
//   const f = new LocalUpgrade(agent, { version: "2.0.0", md5, crc32, sha256 });
//   for (const chunk of chunks) f.write(chunk, totalSize);   // 0, or -1 (see f.error)
//   f.flush();                                              // 0 when every byte arrived
//   f.verify();                                             // 0: verified, staged, restarting
//   f.cancel();                                             // abandon
// As in QuecPython, the methods return 0 or -1; `error` keeps the runtime's code (-1..-4) and
// reason. The bytes go through Agent.beginLocal: the same policy and version checks, journal,
// slot writer (erase before write, read-back), digest and image verification and boot flag as a
// download. One difference: QuecPython's verify() only verifies and the application restarts;
// here verify() also stages the image and the agent restarts into it, as update() does.

import type { LocalSession } from "../agent/agent.ts";
import { ErrorCode, OtaError, errorMessage } from "../errors.ts";
import type { UpdateResult } from "../agent/types.ts";
import { orderableVersion } from "./payload.ts";

/** What the sender knows of the image besides its bytes. All three digests are required. */
export interface LocalImage {
  version: string;
  md5: string;
  crc32: string;
  sha256: string;
  /** Default "app". */
  component?: string;
  /** Shown in the journal as local:<name>. */
  name?: string;
}

/** The part of the Agent a local upgrade needs. */
export interface LocalAgent {
  beginLocal(input: unknown): LocalSession;
}

export class LocalUpgrade {
  private readonly agent: LocalAgent;
  private readonly image: LocalImage;
  private session: LocalSession | undefined;
  private total: number | undefined;
  private flushed = false;
  private closed = false;
  /** The first failure, with its code and reason. */
  error: OtaError | undefined;
  /** Set by verify(). */
  result: UpdateResult | undefined;

  constructor(agent: LocalAgent, image: LocalImage) {
    this.agent = agent;
    this.image = image;
  }

  /** Bytes written so far. */
  get position(): number {
    return this.session?.position ?? 0;
  }

  /** Writes the next chunk. totalSize is the image size, the same on every call; the first call
   * checks the offer (version newer, battery, signal, space) and opens the slot. */
  write(chunk: Uint8Array, totalSize: number): 0 | -1 {
    return this.guard(() => {
      if (this.flushed) throw new OtaError(ErrorCode.UpdateFailed, "write after flush");
      if (this.total === undefined) {
        orderableVersion(String(this.image.version), "bad local image");
        this.total = totalSize;
        this.session = this.agent.beginLocal({
          component: this.image.component ?? "app",
          version: this.image.version,
          url: `local:${this.image.name ?? ""}`,
          size: totalSize,
          md5: this.image.md5,
          crc32: this.image.crc32,
          sha256: this.image.sha256,
        });
      } else if (totalSize !== this.total) {
        throw new OtaError(ErrorCode.UpdateFailed, `totalSize changed from ${this.total} to ${totalSize}`);
      }
      this.session!.write(chunk);
    });
  }

  /** Ends the transfer: every byte of totalSize must have arrived. */
  flush(): 0 | -1 {
    return this.guard(() => {
      const s = this.session;
      if (!s || this.total === undefined) throw new OtaError(ErrorCode.UpdateFailed, "nothing was written");
      if (s.position !== this.total) throw new OtaError(ErrorCode.VerifyFailed, `flush after ${s.position} of ${this.total} bytes`);
      this.flushed = true;
    });
  }

  /** Verifies digests and image, stages it and restarts into it. */
  verify(): 0 | -1 {
    return this.guard(() => {
      if (!this.flushed || !this.session) throw new OtaError(ErrorCode.UpdateFailed, "verify before flush");
      const r = this.session.finish();
      this.result = r;
      this.closed = true;
      if (!r.ok) throw new OtaError(r.errorCode === 0 ? ErrorCode.UpdateFailed : r.errorCode, r.reason);
    });
  }

  /** Abandons the transfer; the running image is untouched. */
  cancel(): void {
    this.session?.cancel();
    this.closed = true;
  }

  private guard(f: () => void): 0 | -1 {
    if (this.error) return -1;
    if (this.closed) {
      this.error = new OtaError(ErrorCode.UpdateFailed, "the local upgrade is closed");
      return -1;
    }
    try {
      f();
      return 0;
    } catch (e) {
      this.error = e instanceof OtaError ? e : new OtaError(ErrorCode.FlashWriteFailed, errorMessage(e));
      if (this.session && !this.closed) this.session.cancel();
      this.closed = true;
      return -1;
    }
  }
}
