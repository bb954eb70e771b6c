// The early check of an image's head (BootTarget.checkHead) while its first bytes arrive, so a
// wrong image is refused after its first bytes, not after the whole download. Shared by full
// downloads, local upgrades and delta updates (the head of the image the patch produces).

import type { BootTarget, ImageExpectation } from "../targets/boot-target.ts";

export class HeadCheck {
  private head: Uint8Array | undefined;
  private length = 0;

  constructor(
    private readonly target: BootTarget,
    private readonly expected: ImageExpectation,
  ) {
    this.head = new Uint8Array(target.headSize);
  }

  /** The next image bytes, in order; throws what checkHead throws once the head is complete. */
  feed(chunk: Uint8Array): void {
    const head = this.head;
    if (!head) return;
    const n = Math.min(chunk.length, head.length - this.length);
    head.set(chunk.subarray(0, n), this.length);
    this.length += n;
    if (this.length < head.length) return;
    this.head = undefined;
    this.target.checkHead(head, this.expected);
  }

  /** The image starts again at byte 0. */
  reset(): void {
    this.head = new Uint8Array(this.target.headSize);
    this.length = 0;
  }
}
