// Version ordering for anti-downgrade checks: dotted numeric versions ("1.2.10" > "1.2.9"),
// optionally with a "v" prefix and a pre-release suffix ("2.0.0-rc1" < "2.0.0").

export function compareVersions(a: string, b: string): number {
  const pa = split(a);
  const pb = split(b);
  for (let i = 0; i < Math.max(pa.nums.length, pb.nums.length); i++) {
    const d = (pa.nums[i] ?? 0) - (pb.nums[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  if (pa.pre === pb.pre) return 0;
  if (pa.pre === "") return 1;
  if (pb.pre === "") return -1;
  return pa.pre < pb.pre ? -1 : 1;
}

function split(v: string): { nums: number[]; pre: string } {
  const s = v.trim().replace(/^v/i, "");
  const dash = s.indexOf("-");
  const main = dash < 0 ? s : s.slice(0, dash);
  const nums = main.split(".").map((x) => (/^\d+$/.test(x) ? Number(x) : NaN));
  if (nums.some((n) => Number.isNaN(n))) throw new Error(`version ${JSON.stringify(v)} is not dotted numbers`);
  return { nums, pre: dash < 0 ? "" : s.slice(dash + 1) };
}
