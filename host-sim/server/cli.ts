// `xs-ota server ...`: runs the update server, and drives a running one through its HTTP API
// (package add, plan create/activate/pause/resume/cancel/show/list, devices, events), and
// `xs-ota sim fleet` and `xs-ota sim devices`. Registered on the program by host-sim/cli.ts.

import * as fs from "node:fs";
import * as path from "node:path";
import { InvalidArgumentError, type Command } from "commander";
import { parseSize } from "../image-builder.ts";
import { runFleet } from "./fleet.ts";
import { parseDialectChoice } from "./rollout.ts";
import { attachDevices } from "./sim-attach.ts";
import { FAULT_MIXES, FLEET_STRATEGY, type FaultMix } from "./fleet-faults.ts";
import { FLEET_ENGINES, type FleetEngine } from "./fleet-device.ts";
import { OtaServer } from "./service.ts";

export const DEFAULT_PORT = 8383;
const DEFAULT_URL = process.env.XS_OTA_SERVER ?? `http://127.0.0.1:${DEFAULT_PORT}`;

function int(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${JSON.stringify(v)} is not a non-negative integer`);
  return n;
}

function num(v: string): number {
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n)) throw new InvalidArgumentError(`${JSON.stringify(v)} is not a number`);
  return n;
}

const csv = (v: string) => v.split(",").map((s) => s.trim()).filter((s) => s.length > 0);

async function api(base: string, method: string, route: string, body?: unknown, raw?: { bytes: Uint8Array; type: string }): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(`${base}${route}`, {
      method,
      headers: raw ? { "content-type": raw.type } : body === undefined ? {} : { "content-type": "application/json" },
      body: raw ? raw.bytes : body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new Error(`cannot reach the server at ${base} (${(e as Error).message}); start it with \`xs-ota server\` or pass --url`);
  }
  const text = await res.text();
  const json = text ? (JSON.parse(text) as { error?: string }) : undefined;
  if (!res.ok) throw new Error(`${method} ${route}: HTTP ${res.status}: ${json?.error ?? text}`);
  return json;
}

const print = (v: unknown) => console.log(JSON.stringify(v, null, 2));

export function registerServerCommands(cli: Command): void {
  const server = cli.command("server").description("the update server: packages, plans, staged rollout, live page")
    .option("--port <n>", "HTTP port", int, DEFAULT_PORT)
    .option("--data <dir>", "folder of the database and package files", ".xs-ota-server")
    .option("--host <addr>", "address to listen on (0.0.0.0 for devices on the LAN)", "127.0.0.1")
    .option("--public-host <addr>", "host name or address devices use to download files (default: --host)")
    .option("--broker <b>", "aedes (embedded), mosquitto, or mqtt://host:port of an external broker", "aedes")
    .option("--broker-port <n>", "port of the embedded aedes broker (default: any free port)", int)
    .option("--max-file-size <size>", "largest package file (e.g. 16MiB)", "16MiB")
    .action(async (o: { port: number; data: string; host: string; publicHost?: string; broker: string; brokerPort?: number; maxFileSize: string }) => {
      const s = await OtaServer.start({
        dataDir: path.resolve(o.data), port: o.port, host: o.host, publicHost: o.publicHost, broker: o.broker, brokerPort: o.brokerPort,
        maxFileBytes: parseSize(o.maxFileSize), log: (l) => console.error(l),
      });
      console.log(`xs-ota server: ${s.base}/ (page), ${s.base}/api, broker ${s.deviceBrokerUrl}, data ${path.resolve(o.data)}`);
      await new Promise<void>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
      await s.close();
    });
  const url = (c: Command) => c.option("--url <url>", "the server (env XS_OTA_SERVER)", DEFAULT_URL);

  const pkg = server.command("package").description("packages on a running server");
  url(pkg.command("add <file...>").description("upload a package: one file, or component=file pairs (up to 5)"))
    .requiredOption("--product <p>", "product key")
    .option("--kind <k>", "full or delta", "full")
    .option("--source-version <v>", "delta: the version the patch applies to")
    .option("--versions <list>", "versions of raw files: component:version,...")
    .option("--name <name>", "a name for the package")
    .action(async (files: string[], o: { url: string; product: string; kind: string; sourceVersion?: string; versions?: string; name?: string }) => {
      const form = new FormData();
      form.set("product", o.product);
      form.set("kind", o.kind);
      if (o.sourceVersion) form.set("sourceVersion", o.sourceVersion);
      if (o.versions) form.set("versions", o.versions);
      if (o.name) form.set("name", o.name);
      for (const f of files) {
        const eq = f.indexOf("=");
        const [component, file] = eq > 0 ? [f.slice(0, eq), f.slice(eq + 1)] : ["app", f];
        if (!fs.existsSync(file)) throw new Error(`${file} does not exist`);
        form.append(component, new Blob([fs.readFileSync(file)]), path.basename(file));
      }
      const res = await fetch(`${o.url}/api/packages`, { method: "POST", body: form }).catch((e: Error) => {
        throw new Error(`cannot reach the server at ${o.url} (${e.message})`);
      });
      const json = (await res.json()) as { error?: string };
      if (!res.ok) throw new Error(`package add: HTTP ${res.status}: ${json.error}`);
      print(json);
    });
  url(pkg.command("list").description("stored packages")).action(async (o: { url: string }) => print(await api(o.url, "GET", "/api/packages")));

  const plan = server.command("plan").description("plans on a running server");
  url(plan.command("create").description("create a plan (a draft: activate it to start)"))
    .requiredOption("--product <p>", "product key")
    .requiredOption("--package <ids>", "package id(s), comma-separated", (v) => csv(v).map(int))
    .requiredOption("--target <v>", "target version")
    .requiredOption("--source <versions>", "source version(s), comma-separated", csv)
    .option("--name <name>", "plan name")
    .option("--whitelist <devices>", "only these devices", csv)
    .option("--blacklist <devices>", "never these devices (wins over the whitelist)", csv)
    .option("--min-battery <pct>", "strategy: minimum battery", num)
    .option("--min-signal <dBm>", "strategy: minimum signal", num)
    .option("--retries <n>", "strategy: retries after a failure", int)
    .option("--window <HH:MM-HH:MM>", "push period")
    .option("--time-zone <tz>", "time zone of the push period", "UTC")
    .option("--manual", "manual mode (the device, or the operator, confirms)")
    .option("--wave-percent <pct>", "staged rollout: percent of targeted devices per wave", num)
    .option("--error-threshold <pct>", "staged rollout: pause when a wave's failures exceed this percent", num)
    .action(async (o: Record<string, any>) => {
      const body: Record<string, unknown> = { product: o.product, packages: o.package, targetVersion: o.target, sourceVersions: o.source };
      if (o.name) body.name = o.name;
      if (o.whitelist) body.whitelist = o.whitelist;
      if (o.blacklist) body.blacklist = o.blacklist;
      const strategy: Record<string, number> = {};
      if (o.minBattery !== undefined) strategy.minBattery = o.minBattery;
      if (o.minSignal !== undefined) strategy.minSignal = o.minSignal;
      if (o.retries !== undefined) strategy.retries = o.retries;
      if (Object.keys(strategy).length) body.strategy = strategy;
      if (o.window) {
        const [start, end] = String(o.window).split("-");
        body.pushWindow = { start, end, timeZone: o.timeZone };
      }
      if (o.manual) body.mode = "manual";
      const rollout: Record<string, number> = {};
      if (o.wavePercent !== undefined) rollout.wavePercent = o.wavePercent;
      if (o.errorThreshold !== undefined) rollout.errorThresholdPercent = o.errorThreshold;
      if (Object.keys(rollout).length) body.rollout = rollout;
      print(await api(o.url, "POST", "/api/plans", body));
    });
  for (const action of ["activate", "pause", "resume", "cancel"] as const) {
    url(plan.command(action).description(`${action} a plan`).argument("<id>", "plan id", int)).option("--reason <text>", "why (pause)")
      .action(async (id: number, o: { url: string; reason?: string }) => print(await api(o.url, "POST", `/api/plans/${id}/${action}`, o.reason ? { reason: o.reason } : {})));
  }
  url(plan.command("show").description("a plan: devices per state, success rate, wave, pause reason").argument("<id>", "plan id", int))
    .action(async (id: number, o: { url: string }) => print(await api(o.url, "GET", `/api/plans/${id}`)));
  url(plan.command("list").description("every plan with its counts")).action(async (o: { url: string }) => print(await api(o.url, "GET", "/api/plans")));
  url(plan.command("confirm").description("manual mode: confirm the update for a device").argument("<id>", "plan id", int).argument("<device>", "device name"))
    .action(async (id: number, device: string, o: { url: string }) => print(await api(o.url, "POST", `/api/plans/${id}/devices/${encodeURIComponent(device)}/confirm`)));
  url(server.command("devices").description("devices, their versions and states")).option("--product <p>", "only this product")
    .action(async (o: { url: string; product?: string }) => print(await api(o.url, "GET", `/api/devices${o.product ? `?product=${encodeURIComponent(o.product)}` : ""}`)));
  url(server.command("events").description("the event log")).option("--device <name>", "one device").option("--plan <id>", "one plan", int)
    .action(async (o: { url: string; device?: string; plan?: number }) => {
      const q = new URLSearchParams();
      if (o.device) q.set("device", o.device);
      if (o.plan) q.set("plan", String(o.plan));
      print(await api(o.url, "GET", `/api/events?${q}`));
    });

  const sim = cli.commands.find((c) => c.name() === "sim") ?? cli.command("sim");
  sim.command("fleet").description("N simulated boards, each with its own flash file and faults, update from one server through the broker (staged rollout)")
    .option("--devices <n>", "number of boards", int, 100)
    .option("--dialect <d>", "alibaba, quec, http, or mix", "mix")
    .option("--engine <e>", "node (runtime and client in Node) or xs (both inside an xsnap worker per board)", "node")
    .option("--faults <f>", "none or mix (drops, reboots, power cuts, low battery, low signal: see below)", "mix")
    .option("--seed <n>", "seed of the fault mix", int, 1)
    .option("--wave-percent <pct>", "staged rollout wave size", num, 25)
    .option("--size <size>", "image size", "64KiB")
    .option("--data <dir>", "folder for the boards' flash files (flash/<device>.bin) and the server's database; absent or empty; kept")
    .option("--keep", "keep the temporary folder used without --data (its path is in the report)")
    .option("--json", "print one JSON object")
    .addHelpText("after", `
Fault mix: each board draws each fault on its own from --seed and its index:
  drops        the connection closes right after a random image byte
  reboots      a clean restart (as if the watchdog fired) after a random image byte is written; flash intact
  power cuts   power lost inside a flash write or erase (torn, or just before it), during the download
               or during the boot-flag (otadata) write; the board powers on again and must recover
  low battery  ${FLEET_STRATEGY.minBattery - 10}% under the plan's ${FLEET_STRATEGY.minBattery}% minimum: refused, counted as rejected
  low signal   ${FLEET_STRATEGY.minSignal - 10} dBm under the plan's ${FLEET_STRATEGY.minSignal} dBm minimum: refused, counted as rejected
The report: devices, succeeded, failed, rejected, seconds, bytesServed, peakConcurrent, p50Seconds,
p99Seconds, devicesPerMinute, waves, faults {drops, reboots, powerCuts, lowBattery, lowSignal}
(faults that fired, boards that read low). Exit code 1 unless every board not refused ends on the target.`)
    .action(async (o: { devices: number; dialect: string; engine: string; faults: string; seed: number; wavePercent: number; size: string; data?: string; keep?: boolean; json?: boolean }) => {
      parseDialectChoice(o.dialect);
      if (!(FLEET_ENGINES as readonly string[]).includes(o.engine)) throw new Error(`--engine must be node or xs`);
      if (!FAULT_MIXES.includes(o.faults as FaultMix)) throw new Error(`--faults must be ${FAULT_MIXES.join(" or ")}`);
      if (o.devices < 1) throw new Error(`--devices must be at least 1`);
      const r = await runFleet({
        devices: o.devices, engine: o.engine as FleetEngine, dialect: o.dialect as "mix", faults: o.faults as FaultMix, seed: o.seed, wavePercent: o.wavePercent,
        imageSize: parseSize(o.size), data: o.data === undefined ? undefined : path.resolve(o.data), keep: o.keep,
        progress: o.json ? undefined : (l) => console.error(l),
      });
      console.log(o.json ? JSON.stringify(r) : Object.entries(r).map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join("\n"));
      if (r.succeeded + r.rejected < r.devices) process.exitCode = 1;
    });

  sim.command("devices").description("simulated boards that join a running `xs-ota server` (watch them on its page)")
    .option("--url <url>", "the server (or XS_OTA_SERVER)", DEFAULT_URL)
    .requiredOption("--product <pk>", "product the boards belong to")
    .option("--count <n>", "number of boards", int, 3)
    .option("--prefix <p>", "device names are PREFIX0, PREFIX1, ...", "sim-")
    .option("--dialect <d>", "alibaba, quec, http, or mix (one of each in turn)", "mix")
    .option("--from-version <v>", "version of the factory image", "1.0.0")
    .option("--flash-dir <dir>", "a flash file per board in this folder (default: in memory)")
    .option("--battery <pct>", "battery reading", num, 90)
    .option("--rssi <dBm>", "signal reading", num, -60)
    .option("--until <version>", "exit once every board runs this version")
    .option("--timeout <s>", "give up after this many seconds", num, 600)
    .action(async (o: { url: string; product: string; count: number; prefix: string; dialect: string; fromVersion: string; flashDir?: string; battery: number; rssi: number; until?: string; timeout: number }) => {
      parseDialectChoice(o.dialect);
      const stop = new Promise<void>((resolve) => process.once("SIGINT", () => resolve()));
      console.error(`${o.count} simulated board${o.count === 1 ? "" : "s"} of ${o.product} on ${o.url}${o.until ? `, until all run ${o.until}` : ", until Ctrl-C"}`);
      const r = await attachDevices({
        url: o.url, product: o.product, count: o.count, prefix: o.prefix, dialect: o.dialect as "mix", fromVersion: o.fromVersion,
        flashDir: o.flashDir, battery: o.battery, rssi: o.rssi, until: o.until, timeoutMs: o.timeout * 1000, stop, progress: (l) => console.error(l),
      });
      for (const d of r.devices) console.log(`${d.name}: ${d.version}, ${d.boots} boot${d.boots === 1 ? "" : "s"}, ${d.updates} update${d.updates === 1 ? "" : "s"} (${d.failures} failed)`);
      if (o.until && !r.reached) {
        console.error(`xs-ota: not every board reached ${o.until} within ${o.timeout} s`);
        process.exitCode = 1;
      }
    });
}
