// Flash failures as -4. The agent opens every partition through this wrapper, so whatever a
// platform's flash throws on read, write or erase (a driver error, a failed erase, a lost
// power supply in the simulator) reaches update() as OtaError(-4) naming the partition and the
// operation, and update() can treat anything else it did not expect as -1, not as a flash error.

import type { FlashPartition, PartitionPort } from "../ports.ts";
import { ErrorCode, OtaError, errorMessage } from "../errors.ts";

function flashError(label: string, what: string, e: unknown): unknown {
  if (e instanceof OtaError) return e;
  return new OtaError(ErrorCode.FlashWriteFailed, `flash: ${label}: ${what}: ${errorMessage(e)}`);
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

function checked(part: FlashPartition): FlashPartition {
  const label = part.label;
  return {
    label,
    geometry: part.geometry,
    read(offset, length) {
      try {
        return part.read(offset, length);
      } catch (e) {
        throw flashError(label, `read ${length} bytes at ${hex(offset)}`, e);
      }
    },
    write(offset, data) {
      try {
        part.write(offset, data);
      } catch (e) {
        throw flashError(label, `write ${data.length} bytes at ${hex(offset)}`, e);
      }
    },
    erase(offset, length) {
      try {
        part.erase(offset, length);
      } catch (e) {
        throw flashError(label, `erase ${length} bytes at ${hex(offset)}`, e);
      }
    },
  };
}

/** The same partitions, with every flash failure thrown as OtaError(-4). */
export function withFlashErrors(port: PartitionPort): PartitionPort {
  return {
    list: () => port.list(),
    running: () => port.running(),
    open(label) {
      let part: FlashPartition;
      try {
        part = port.open(label);
      } catch (e) {
        throw flashError(label, "open", e);
      }
      return checked(part);
    },
  };
}
