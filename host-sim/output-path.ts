// The files the CLI names: where it writes one (image build -o, partitions build, sim update
// --flash), missing parent folders are created; a path that names a folder is refused by name.

import * as fs from "node:fs";
import * as path from "node:path";

/** Makes `file` writable as a file: creates its missing parent folders; throws a clear error when
 * it is a directory (or its parent is a file). `what` names the flag or argument. */
export function prepareOutputFile(file: string, what: string): void {
  const st = fs.statSync(file, { throwIfNoEntry: false });
  if (st?.isDirectory()) throw new Error(`${what} ${file} is a directory, not a file`);
  const parent = path.dirname(path.resolve(file));
  const pst = fs.statSync(parent, { throwIfNoEntry: false });
  if (pst && !pst.isDirectory()) throw new Error(`${what} ${file}: ${parent} is not a directory`);
  if (!pst) {
    try {
      fs.mkdirSync(parent, { recursive: true });
    } catch (e) {
      throw new Error(`${what} ${file}: cannot create ${parent}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}

/** A file the CLI reads: it must exist and not be a directory. */
export function requireFile(file: string, what: string): void {
  const st = fs.statSync(file, { throwIfNoEntry: false });
  if (!st) throw new Error(`${what} ${file} does not exist`);
  if (st.isDirectory()) throw new Error(`${what} ${file} is a directory, not a file`);
}
