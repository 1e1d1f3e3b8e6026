import { describe, expect, it } from "vitest";
import { parseDuration } from "../src/util/duration.js";

describe("parseDuration", () => {
  it("reads units, compounds and bare seconds", () => {
    expect(parseDuration("30h")).toBe(30 * 3_600_000);
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("2d")).toBe(172_800_000);
    expect(parseDuration("45s")).toBe(45_000);
    expect(parseDuration("1500ms")).toBe(1500);
    expect(parseDuration("1.5h")).toBe(5_400_000);
    expect(parseDuration("90")).toBe(90_000);
  });

  it("refuses anything else with a RangeError naming the flag", () => {
    for (const bad of ["", "h", "10x", "1h 30m", "-5m", "5m3"]) {
      expect(() => parseDuration(bad, "--require")).toThrowError(RangeError);
    }
    expect(() => parseDuration("ten hours", "--require")).toThrowError(/`--require`.*"ten hours"/);
  });
});
