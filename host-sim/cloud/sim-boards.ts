// Board profiles the protocol simulations add: esp32-4mb with an "assets" data partition (the
// data component of multi-component plans). Same chip as esp32-4mb; the CSV sits here.

import type { BoardProfile } from "../boards/profiles.ts";
import { profile } from "../boards/profiles.ts";

export const ESP32_4MB_ASSETS: BoardProfile = {
  ...profile("esp32-4mb"),
  name: "esp32-4mb-assets",
  // Resolved relative to host-sim/boards/profiles.ts.
  partitionsCsv: "../cloud/esp32-4mb-assets.csv",
};
