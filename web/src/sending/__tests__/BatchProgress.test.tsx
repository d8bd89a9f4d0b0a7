import { render, screen } from "@testing-library/react";
import { BatchProgress, percentDone, progressParts } from "../components/BatchProgress";

test("every recipient lands in exactly one group, and the rest is pending", () => {
  const parts = progressParts({ delivered: 5, complained: 1, bounced: 1, failed: 2, queued: 1 }, 12);
  const count = Object.fromEntries(parts.map((p) => [p.key, p.count]));
  expect(count).toEqual({ delivered: 5, sent: 0, bounced: 2, failed: 2, other: 0, pending: 3 });
  expect(parts.reduce((sum, p) => sum + p.count, 0)).toBe(12);
  expect(percentDone(parts, 12)).toBe(75);
});

test("the bar's segments are sized by share of the total and it reports its progress", () => {
  render(<BatchProgress counts={{ delivered: 6, bounced: 1, failed: 1, queued: 2 }} total={10} />);
  const bar = screen.getByRole("progressbar", { name: "Batch progress" });
  expect(bar).toHaveAttribute("aria-valuenow", "80");
  expect(screen.getByTestId("progress-delivered")).toHaveStyle({ width: "60%" });
  expect(screen.getByTestId("progress-bounced")).toHaveStyle({ width: "10%" });
  expect(screen.getByTestId("progress-failed")).toHaveStyle({ width: "10%" });
  expect(screen.queryByTestId("progress-pending")).toBeNull();
  expect(screen.getByTestId("progress-summary")).toHaveTextContent(
    "6 delivered · 1 bounced · 1 failed · 2 pending of 10",
  );
});

test("a batch nobody has been sent to yet is 0% done, and an empty one does not divide by zero", () => {
  const { rerender } = render(<BatchProgress counts={{ queued: 4 }} total={4} />);
  expect(screen.getByRole("progressbar")).toHaveAttribute("aria-valuenow", "0");
  rerender(<BatchProgress counts={{}} total={0} />);
  expect(screen.getByRole("progressbar")).toHaveAttribute("aria-valuenow", "0");
});
