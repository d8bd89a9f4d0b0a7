import type { MessageSummary } from "../api";
import { mergeHead } from "../useInbox";

const msg = (id: number, extra: Partial<MessageSummary> = {}): MessageSummary => ({
  id,
  message_id: null,
  subject: `m${id}`,
  from: { name: "", address: "a@b.test" },
  to: [],
  cc: [],
  date: null,
  received_at: "2026-01-01T00:00:00Z",
  size: 1,
  is_read: false,
  tags: [],
  has_attachments: false,
  snippet: "",
  ...extra,
});

describe("mergeHead", () => {
  it("puts new messages on top and keeps older pages already loaded", () => {
    const current = [5, 4, 3, 2, 1].map((id) => msg(id));
    const merged = mergeHead(
      current,
      [7, 6, 5].map((id) => msg(id)),
      3,
    );
    expect(merged.map((m) => m.id)).toEqual([7, 6, 5, 4, 3, 2, 1]);
  });

  it("takes the server's word inside the head: changes and deletions", () => {
    const current = [5, 4, 3, 2, 1].map((id) => msg(id));
    const merged = mergeHead(current, [msg(5, { is_read: true }), msg(3), msg(2)], 3);
    expect(merged.map((m) => m.id)).toEqual([5, 3, 2, 1]);
    expect(merged[0].is_read).toBe(true);
  });

  it("uses a short head as the whole list", () => {
    const current = [3, 2, 1].map((id) => msg(id));
    expect(mergeHead(current, [msg(3)], 50).map((m) => m.id)).toEqual([3]);
    expect(mergeHead(current, [], 50)).toEqual([]);
  });
});
