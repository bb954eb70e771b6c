// Request validation for the server's API: every check throws ApiError with the HTTP status and
// a message that names the field, before anything is written.

import { versionProblem } from "../../src/agent/version.ts";

export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = "ApiError";
  }
}

export function bad(message: string): never {
  throw new ApiError(400, message);
}

export function notFound(message: string): never {
  throw new ApiError(404, message);
}

export function conflict(message: string): never {
  throw new ApiError(409, message);
}

export type Obj = Record<string, unknown>;

export function object(v: unknown, field: string): Obj {
  if (typeof v !== "object" || v === null || Array.isArray(v)) bad(`${field} must be a JSON object`);
  return v as Obj;
}

/** Refuses keys the schema does not know (a typo must not silently change nothing). */
export function onlyKeys(o: Obj, keys: readonly string[], field: string): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) bad(`${field}: unknown field ${JSON.stringify(k)} (known: ${keys.join(", ")})`);
}

/** Names used in topics and URLs: products, devices, components. */
export function name(v: unknown, field: string, max = 64): string {
  if (typeof v !== "string" || v.length < 1 || v.length > max) bad(`${field} must be a string of 1..${max} characters`);
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    const ok = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 46 || c === 45 || c === 58;
    if (!ok) bad(`${field} ${JSON.stringify(v)} may hold only letters, digits and _ . - :`);
  }
  return v;
}

export function optName(v: unknown, field: string): string | undefined {
  return v === undefined ? undefined : name(v, field);
}

export function text(v: unknown, field: string, max = 200): string {
  if (typeof v !== "string" || v.length > max) bad(`${field} must be a string of at most ${max} characters`);
  for (let i = 0; i < v.length; i++) if (v.charCodeAt(i) < 0x20) bad(`${field} must not hold control characters`);
  return v;
}

export function version(v: unknown, field: string): string {
  if (typeof v !== "string") bad(`${field} must be a SemVer string such as "2.0.0"`);
  const problem = versionProblem(v);
  if (problem) bad(`${field} ${JSON.stringify(v)} is not SemVer 2.0.0: ${problem}`);
  return v;
}

export function number(v: unknown, field: string, min: number, max: number, integer = false): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
    bad(`${field} must be ${integer ? "an integer" : "a number"} in [${min}, ${max}]`);
  }
  return v;
}

export function optNumber(v: unknown, field: string, min: number, max: number, integer = false): number | undefined {
  return v === undefined ? undefined : number(v, field, min, max, integer);
}

export function list<T>(v: unknown, field: string, item: (x: unknown, f: string) => T, max = 10000): T[] {
  if (!Array.isArray(v)) bad(`${field} must be an array`);
  if (v.length > max) bad(`${field} holds ${v.length} entries, at most ${max}`);
  return v.map((x, i) => item(x, `${field}[${i}]`));
}

export function id(v: string, field: string): number {
  const n = Number(v);
  if (!/^[1-9][0-9]{0,14}$/.test(v) || !Number.isSafeInteger(n)) bad(`${field} ${JSON.stringify(v)} is not an id`);
  return n;
}
