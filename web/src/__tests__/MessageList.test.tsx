import { fireEvent, render, screen } from "@testing-library/react";
import type { MessageSummary } from "../api";
import { MessageList, ROW_HEIGHT } from "../components/MessageList";

function messages(count: number): MessageSummary[] {
  return Array.from({ length: count }, (_, i) => ({
    id: count - i,
    message_id: null,
    subject: `Subject ${count - i}`,
    from: { name: `Sender ${count - i}`, address: "s@example.com" },
    to: [],
    cc: [],
    date: null,
    received_at: new Date().toISOString(),
    size: 2048,
    is_read: i % 2 === 1,
    tags: i === 0 ? ["signup"] : [],
    has_attachments: i === 0,
    snippet: "Hello there",
  }));
}

function renderList(items: MessageSummary[], extra: Partial<Parameters<typeof MessageList>[0]> = {}) {
  const handlers = { onOpen: vi.fn(), onToggle: vi.fn(), onLoadMore: vi.fn() };
  render(
    <MessageList
      items={items}
      selected={new Set()}
      focusedId={null}
      openId={null}
      hasMore={false}
      selectable
      {...handlers}
      {...extra}
    />,
  );
  return handlers;
}

// jsdom lays nothing out: give every element the size of a ten-row viewport.
beforeAll(() => {
  Object.defineProperty(HTMLElement.prototype, "clientHeight", { configurable: true, value: ROW_HEIGHT * 10 });
  Object.defineProperty(HTMLElement.prototype, "clientWidth", { configurable: true, value: 800 });
});
afterAll(() => {
  delete (HTMLElement.prototype as { clientHeight?: number }).clientHeight;
  delete (HTMLElement.prototype as { clientWidth?: number }).clientWidth;
});

describe("MessageList", () => {
  it("renders only the rows in view, even for 100,000 messages", () => {
    renderList(messages(100_000));
    const rows = screen.getAllByTestId("message-row");
    expect(rows.length).toBeGreaterThan(5);
    expect(rows.length).toBeLessThan(40);
    expect(rows[0]).toHaveTextContent("Subject 100000");
  });

  it("shows unread state, tags, size and the attachment mark", () => {
    renderList(messages(3));
    const [first, second] = screen.getAllByTestId("message-row");
    expect(first).toHaveAttribute("data-unread", "true");
    expect(first).toHaveAccessibleName("Unread. Sender 3: Subject 3");
    expect(second).not.toHaveAttribute("data-unread");
    expect(first).toHaveTextContent("signup");
    expect(first).toHaveTextContent("2.0 KB");
    expect(screen.getAllByTitle("Has attachments")).toHaveLength(1);
  });

  it("opens on a row click; the checkbox selects without opening", () => {
    const { onOpen, onToggle } = renderList(messages(3));
    fireEvent.click(screen.getByRole("option", { name: /Subject 2/ }));
    expect(onOpen).toHaveBeenCalledWith(2);
    fireEvent.click(screen.getByRole("checkbox", { name: "Select “Subject 3”" }));
    expect(onToggle).toHaveBeenCalledWith(3);
    expect(onOpen).toHaveBeenCalledTimes(1);
  });

  it("asks for the next page when the end of what is loaded comes into view", () => {
    const { onLoadMore } = renderList(messages(5), { hasMore: true });
    expect(onLoadMore).toHaveBeenCalled();
    expect(screen.getByRole("progressbar", { name: "Loading more messages" })).toBeInTheDocument();
  });

  it("offers no checkboxes to a reader who may not change messages", () => {
    renderList(messages(3), { selectable: false });
    expect(screen.queryByRole("checkbox")).toBeNull();
  });
});
