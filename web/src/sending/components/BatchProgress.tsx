import Box from "@mui/material/Box";
import Typography from "@mui/material/Typography";
import type { DeliveryStatus } from "../api";
import { toneColor, type Tone } from "../status";

export interface ProgressPart {
  key: "delivered" | "sent" | "bounced" | "failed" | "other" | "pending";
  label: string;
  count: number;
  tone: Tone;
}

/**
 * A batch's recipients in the groups the bar shows, in order. Every recipient is in exactly
 * one group: complaints count as bounces, suppressed and cancelled ones as "other".
 */
export function progressParts(counts: Partial<Record<DeliveryStatus, number>>, total: number): ProgressPart[] {
  const n = (status: DeliveryStatus) => counts[status] ?? 0;
  const parts: ProgressPart[] = [
    { key: "delivered", label: "delivered", count: n("delivered"), tone: "success" },
    { key: "sent", label: "sent", count: n("sent"), tone: "info" },
    { key: "bounced", label: "bounced", count: n("bounced") + n("complained"), tone: "warning" },
    { key: "failed", label: "failed", count: n("failed"), tone: "error" },
    { key: "other", label: "suppressed or cancelled", count: n("suppressed") + n("cancelled"), tone: "default" },
  ];
  const counted = parts.reduce((sum, part) => sum + part.count, 0);
  const pending = Math.max(n("queued") + n("sending") + n("deferred"), total - counted);
  parts.push({ key: "pending", label: "pending", count: pending, tone: "default" });
  return parts;
}

/** Done (no longer pending) as a whole percentage of the total. */
export function percentDone(parts: ProgressPart[], total: number): number {
  if (total <= 0) return 0;
  const pending = parts.find((part) => part.key === "pending")?.count ?? 0;
  return Math.round(((total - Math.min(pending, total)) / total) * 100);
}

interface Props {
  counts: Partial<Record<DeliveryStatus, number>>;
  total: number;
  label?: string;
  dense?: boolean;
}

export function BatchProgress({ counts, total, label = "Batch progress", dense = false }: Props) {
  const parts = progressParts(counts, total);
  const done = percentDone(parts, total);
  const summary = parts
    .filter((part) => part.count > 0 || ["delivered", "bounced", "failed", "pending"].includes(part.key))
    .map((part) => `${part.count} ${part.label}`)
    .join(" · ");
  return (
    <Box sx={{ width: "100%" }}>
      <Box
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={done}
        aria-valuetext={`${done}% done: ${summary} of ${total}`}
        sx={{
          display: "flex",
          height: dense ? 6 : 10,
          borderRadius: 5,
          overflow: "hidden",
          bgcolor: "action.hover",
        }}
      >
        {parts.map((part) =>
          part.count > 0 && part.key !== "pending" ? (
            <Box
              key={part.key}
              data-testid={`progress-${part.key}`}
              title={`${part.count} ${part.label}`}
              sx={{
                width: `${(part.count / Math.max(total, 1)) * 100}%`,
                bgcolor: toneColor(part.tone),
                transition: "width 300ms ease",
              }}
            />
          ) : null,
        )}
      </Box>
      <Typography variant="caption" color="text.secondary" data-testid="progress-summary">
        {summary} of {total}
      </Typography>
    </Box>
  );
}
