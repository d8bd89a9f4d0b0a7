import { render, screen } from "@testing-library/react";
import type { SeriesPoint } from "../api";
import { niceMax, SeriesChart } from "../components/SeriesChart";

function point(minute: number, values: Partial<SeriesPoint> = {}): SeriesPoint {
  return {
    at: new Date(Date.UTC(2026, 0, 1, 12, minute)).toISOString(),
    sent: 0,
    delivered: 0,
    deferred: 0,
    bounced: 0,
    failed: 0,
    complained: 0,
    opened: 0,
    clicked: 0,
    ...values,
  };
}

test("the y axis tops out at a round number at or above the largest value", () => {
  expect(niceMax(0)).toBe(1);
  expect(niceMax(3)).toBe(5);
  expect(niceMax(10)).toBe(10);
  expect(niceMax(11)).toBe(20);
  expect(niceMax(240)).toBe(500);
});

test("each minute is a bar whose segments stack in proportion to the counts", () => {
  const series = [point(0, { sent: 4, delivered: 3, failed: 1 }), point(1), point(2, { sent: 2, bounced: 2 })];
  render(<SeriesChart series={series} bucketSeconds={60} />);
  expect(screen.getAllByTestId("chart-bar")).toHaveLength(3);
  const chart = screen.getByRole("img");
  expect(chart).toHaveAccessibleName(/6 sent, 3 delivered, 0 deferred, 2 bounced, 1 failed/);

  const delivered = chart.querySelector('[data-series="delivered"]')!;
  const failed = chart.querySelector('[data-series="failed"]')!;
  const bounced = chart.querySelector('[data-series="bounced"]')!;
  const h = (el: Element) => Number(el.getAttribute("height"));
  expect(h(delivered)).toBeCloseTo(3 * h(failed));
  expect(h(bounced)).toBeCloseTo(2 * h(failed));
  // Failed sits on top of delivered in the same bar.
  expect(Number(failed.getAttribute("y")) + h(failed)).toBeCloseTo(Number(delivered.getAttribute("y")));
  // An empty minute draws no segment.
  expect(screen.getAllByTestId("chart-bar")[1].querySelectorAll("[data-series]")).toHaveLength(0);
  expect(screen.getByText("Sent 6")).toBeInTheDocument();
  expect(screen.getByText("Failed 1")).toBeInTheDocument();
});

test("an empty window says so instead of drawing nothing", () => {
  render(<SeriesChart series={[point(0), point(1)]} bucketSeconds={60} />);
  expect(screen.getByText("Nothing sent in this window.")).toBeInTheDocument();
});
