// npm run bench:resume — one JSON line: what interruptions cost a 1 MiB update.
// {sizeBytes, interruptions, bytesFetchedAgain, erases, journalErases}
import { simUpdate } from "../host-sim/sim-update.ts";
import { SimBoard } from "../host-sim/board.ts";
import { profile } from "../host-sim/boards/profiles.ts";
import { buildTestImage } from "../host-sim/image-builder.ts";
import { findPartition } from "../src/targets/esp-idf/partition-table.ts";

const size = 1024 * 1024;
const board = SimBoard.create(profile("esp32-4mb"), buildTestImage({ version: "1.0.0", size: 64 * 1024 }));
const r = await simUpdate({
  existing: board,
  size,
  dropAt: [100_000, 400_000],
  rebootAt: [250_000, 700_000, 900_000],
});
if (!r.ok) throw new Error(`bench update failed: ${r.reason}`);
const journal = findPartition(board.entries, "otajournal")!;
let journalErases = 0;
for (const [at, n] of board.flash.sectorErases) if (at >= journal.address && at < journal.address + journal.size) journalErases += n;
console.log(JSON.stringify({ sizeBytes: size, interruptions: r.interruptions, bytesFetchedAgain: r.bytesFetchedAgain, erases: r.flashErases, journalErases, seconds: Number(r.seconds.toFixed(3)) }));
