// The engines the simulator tests run on: the same tests, once per engine.
export const ENGINES = ["node", "xs"] as const;
export type Engine = (typeof ENGINES)[number];
