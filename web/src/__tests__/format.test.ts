import { formatSize, relativeTime } from "../format";

describe("formatSize", () => {
  it("uses the largest unit that keeps the number readable", () => {
    expect(formatSize(0)).toBe("0 B");
    expect(formatSize(1023)).toBe("1023 B");
    expect(formatSize(1536)).toBe("1.5 KB");
    expect(formatSize(25 * 1024 * 1024)).toBe("25 MB");
  });
});

describe("relativeTime", () => {
  const now = Date.parse("2026-06-15T12:00:00Z");
  it("speaks of recent times relatively", () => {
    expect(relativeTime("2026-06-15T11:59:58Z", now)).toBe("just now");
    expect(relativeTime("2026-06-15T11:55:00Z", now)).toBe("5 min. ago");
    expect(relativeTime("2026-06-15T09:00:00Z", now)).toBe("3 hr. ago");
    expect(relativeTime("2026-06-13T12:00:00Z", now)).toBe("2 days ago");
  });
  it("gives the date past a week, with the year only when it differs", () => {
    expect(relativeTime("2026-05-01T12:00:00Z", now)).toBe("May 1");
    expect(relativeTime("2025-05-01T12:00:00Z", now)).toBe("May 1, 2025");
  });
  it("says nothing about a date it cannot read", () => {
    expect(relativeTime("not a date", now)).toBe("");
  });
});
