// The portable part of the library's API (no Moddable module): the agent, the error type, the
// ports' types and the HTTP manifest dialect of `xs-ota server`. xs-ota.ts re-exports it with the
// Moddable platform; tests load this file on Node where an app imports "xs-ota".

export { Agent } from "../../agent/agent.ts";
export type { AgentOptions } from "../../agent/agent.ts";
export type { BootReport, Progress, Phase, UpdateResult } from "../../agent/types.ts";
export type { Offer } from "../../agent/offer.ts";
export type { Readings } from "../../agent/policy.ts";
export { ErrorCode, OtaError } from "../../errors.ts";
export type { ErrorCodeValue } from "../../errors.ts";
export type * from "../../ports.ts";
export { HttpDevice } from "../../protocol/http-device.ts";
export { MultiComponentUpdater } from "../../protocol/multi-component.ts";
export type { ComponentResult, MultiComponentOptions, MultiOutcome } from "../../protocol/multi-component.ts";
export type { HttpDeviceOptions } from "../../protocol/http-device.ts";
export type { PollOutcome } from "../../protocol/http-manifest.ts";
