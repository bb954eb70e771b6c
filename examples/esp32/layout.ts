// The partition table of this app (partitions.csv), as createModdablePlatform needs it: the
// Moddable flash modules cannot report partition types, subtypes or addresses.
// test/moddable-example.test.ts checks that these rows equal partitions.csv.

import type { PartitionInfo } from "xs-ota";

const APP = 0x00;
const DATA = 0x01;

export const LAYOUT: readonly PartitionInfo[] = Object.freeze([
  { label: "nvs", type: DATA, subtype: 0x02, address: 0x9000, size: 0x4000 },
  { label: "otadata", type: DATA, subtype: 0x00, address: 0xd000, size: 0x2000 },
  { label: "phy_init", type: DATA, subtype: 0x01, address: 0xf000, size: 0x1000 },
  { label: "ota_0", type: APP, subtype: 0x10, address: 0x10000, size: 0x1e0000 },
  { label: "ota_1", type: APP, subtype: 0x11, address: 0x1f0000, size: 0x1e0000 },
  { label: "otajournal", type: 0x40, subtype: 0x01, address: 0x3d0000, size: 0x4000 },
]);
