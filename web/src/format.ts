// Small, pure formatters shared by the list and the message view.

const UNITS = ["B", "KB", "MB", "GB"];

export function formatSize(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const shown = unit === 0 || value >= 10 ? Math.round(value).toString() : value.toFixed(1);
  return `${shown} ${UNITS[unit]}`;
}

const STEPS: [number, Intl.RelativeTimeFormatUnit][] = [
  [60, "second"],
  [60, "minute"],
  [24, "hour"],
  [7, "day"],
];

/** "just now", "5 min. ago", "3 days ago"; past a week, the date itself. */
export function relativeTime(iso: string, now: number = Date.now()): string {
  const then = new Date(iso).getTime();
  if (Number.isNaN(then)) return "";
  let delta = Math.round((now - then) / 1000);
  if (delta < 10) return "just now";
  const format = new Intl.RelativeTimeFormat("en", { numeric: "auto", style: "short" });
  for (const [size, unit] of STEPS) {
    if (Math.abs(delta) < size) return format.format(-delta, unit);
    delta = Math.round(delta / size);
  }
  const date = new Date(then);
  const sameYear = date.getFullYear() === new Date(now).getFullYear();
  return date.toLocaleDateString("en", { day: "numeric", month: "short", year: sameYear ? undefined : "numeric" });
}

export function fullTime(iso: string | null): string {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

export function addressText(address: { name: string; address: string } | null | undefined): string {
  if (!address) return "";
  return address.name ? `${address.name} <${address.address}>` : address.address;
}

export function senderLabel(address: { name: string; address: string }): string {
  return address.name || address.address || "(no sender)";
}
