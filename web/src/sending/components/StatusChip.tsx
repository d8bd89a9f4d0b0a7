import Chip from "@mui/material/Chip";
import type { DeliveryStatus } from "../api";
import { STATUS_ORDER, STATUS_TONE } from "../status";

export function StatusChip({ status, count }: { status: DeliveryStatus; count?: number }) {
  const label = count === undefined ? status : `${status} ${count}`;
  return (
    <Chip
      size="small"
      variant={status === "delivered" ? "filled" : "outlined"}
      color={STATUS_TONE[status] ?? "default"}
      label={label}
      data-testid="status-chip"
      aria-label={count === undefined ? `Status: ${status}` : `${count} ${status}`}
    />
  );
}

export function StatusChips({ counts }: { counts: Partial<Record<DeliveryStatus, number>> }) {
  const present = STATUS_ORDER.filter((status) => (counts[status] ?? 0) > 0);
  if (present.length === 0) return null;
  return (
    <>
      {present.map((status) => (
        <StatusChip key={status} status={status} count={counts[status]} />
      ))}
    </>
  );
}
