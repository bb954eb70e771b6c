#!/usr/bin/env node
// The xs-ota command line. The package builds itself on install (npm prepare), so this runs the
// compiled host shim in dist/.
import { main } from "../dist/host-sim/cli.js";

main(process.argv).catch((e) => {
  console.error(`xs-ota: error: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 2;
});
