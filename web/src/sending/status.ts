// How delivery states look: one colour per state, shared by chips, bars and the chart.
import type { DeliveryStatus } from "./api";

export type Tone = "success" | "info" | "warning" | "error" | "default";

export const STATUS_TONE: Record<DeliveryStatus, Tone> = {
  queued: "default",
  sending: "info",
  deferred: "warning",
  sent: "info",
  delivered: "success",
  bounced: "warning",
  complained: "warning",
  suppressed: "default",
  failed: "error",
  cancelled: "default",
};

/** A CSS colour for a tone, from the theme's CSS variables so light and dark both work. */
export function toneColor(tone: Tone): string {
  if (tone === "default") return "var(--mui-palette-text-disabled)";
  return `var(--mui-palette-${tone}-main)`;
}

export function statusColor(status: DeliveryStatus): string {
  return toneColor(STATUS_TONE[status] ?? "default");
}

/** The order chips are listed in: where mail ended up first, then what is still moving. */
export const STATUS_ORDER: DeliveryStatus[] = [
  "delivered",
  "sent",
  "bounced",
  "complained",
  "failed",
  "suppressed",
  "cancelled",
  "deferred",
  "sending",
  "queued",
];
