// The messages a simulated cloud exchanged with the device, in both directions, in order.

export interface ProtocolLogEntry {
  dir: "device->cloud" | "cloud->device";
  /** MQTT topic, or "GET /manifest.json" / "POST /report" for HTTP. */
  channel: string;
  payload: string;
}

export class ProtocolLog {
  readonly entries: ProtocolLogEntry[] = [];
  private waiters: { pred: (e: ProtocolLogEntry) => boolean; resolve: (e: ProtocolLogEntry) => void }[] = [];

  add(dir: ProtocolLogEntry["dir"], channel: string, payload: Uint8Array | string): ProtocolLogEntry {
    const e: ProtocolLogEntry = { dir, channel, payload: typeof payload === "string" ? payload : Buffer.from(payload).toString("utf8") };
    this.entries.push(e);
    this.waiters = this.waiters.filter((w) => {
      if (!w.pred(e)) return true;
      w.resolve(e);
      return false;
    });
    return e;
  }

  /** The first entry (already logged or to come) that matches, or a rejection after ms. */
  waitFor(pred: (e: ProtocolLogEntry) => boolean, ms = 5000, what = "protocol message"): Promise<ProtocolLogEntry> {
    const found = this.entries.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const w = { pred, resolve: (e: ProtocolLogEntry) => (clearTimeout(t), resolve(e)) };
      const t = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`no ${what} within ${ms} ms`));
      }, ms);
      this.waiters.push(w);
    });
  }
}
