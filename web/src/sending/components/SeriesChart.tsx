import Box from "@mui/material/Box";
import Typography from "@mui/material/Typography";
import { useEffect, useRef, useState } from "react";
import type { SeriesKey, SeriesPoint } from "../api";
import { toneColor, type Tone } from "../status";

/** The outcomes stacked in each bar; "sent" is drawn as a line over them. */
export const STACKED: { key: SeriesKey; label: string; tone: Tone }[] = [
  { key: "delivered", label: "Delivered", tone: "success" },
  { key: "deferred", label: "Deferred", tone: "info" },
  { key: "bounced", label: "Bounced", tone: "warning" },
  { key: "failed", label: "Failed", tone: "error" },
];

const DEFAULT_WIDTH = 720;
const HEIGHT = 220;
const PAD = { left: 36, right: 8, top: 10, bottom: 24 };

/** A round top for the y axis: 1, 2, 5, 10, 20, 50... at or above the largest value. */
export function niceMax(value: number): number {
  if (value <= 1) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

export function stackHeight(point: SeriesPoint): number {
  return STACKED.reduce((sum, { key }) => sum + point[key], 0);
}

function timeLabel(iso: string, bucketSeconds: number): string {
  const date = new Date(iso);
  if (bucketSeconds >= 3600) return date.toLocaleString([], { weekday: "short", hour: "2-digit", minute: "2-digit" });
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

interface Props {
  series: SeriesPoint[];
  bucketSeconds: number;
  title?: string;
}

/** The drawing follows its box's width (text stays readable on a phone instead of shrinking). */
function useWidth(): [React.RefObject<HTMLDivElement | null>, number] {
  const ref = useRef<HTMLDivElement | null>(null);
  const [width, setWidth] = useState(DEFAULT_WIDTH);
  useEffect(() => {
    const element = ref.current;
    if (!element || typeof ResizeObserver === "undefined") return;
    const observer = new ResizeObserver(() => {
      if (element.clientWidth > 0) setWidth(Math.max(280, element.clientWidth));
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  return [ref, width];
}

export function SeriesChart({ series, bucketSeconds, title = "Sending over time" }: Props) {
  const [box, WIDTH] = useWidth();
  const top = niceMax(Math.max(0, ...series.map((p) => Math.max(stackHeight(p), p.sent))));
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const slot = series.length ? plotW / series.length : plotW;
  const barW = Math.max(1, slot * 0.75);
  const y = (value: number) => PAD.top + plotH - (value / top) * plotH;
  const totals = Object.fromEntries(
    ["sent", ...STACKED.map((s) => s.key)].map((key) => [key, series.reduce((sum, p) => sum + p[key as SeriesKey], 0)]),
  ) as Record<SeriesKey, number>;
  const description = `${title}: ${totals.sent} sent, ${STACKED.map((s) => `${totals[s.key]} ${s.label.toLowerCase()}`).join(", ")}`;
  const sentLine = series
    .map((p, i) => `${i === 0 ? "M" : "L"}${(PAD.left + slot * i + slot / 2).toFixed(1)},${y(p.sent).toFixed(1)}`)
    .join(" ");
  const labelEvery = Math.max(1, Math.ceil(series.length / Math.max(2, Math.floor(WIDTH / 110))));
  const empty = series.every((p) => p.sent === 0 && stackHeight(p) === 0);

  return (
    <Box ref={box}>
      <Box
        component="svg"
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        role="img"
        aria-label={description}
        data-testid="series-chart"
        sx={{ width: "100%", height: "auto", display: "block", color: "text.secondary", fontSize: 11 }}
      >
        {[0, 0.5, 1].map((fraction) => (
          <g key={fraction}>
            <line
              x1={PAD.left}
              x2={WIDTH - PAD.right}
              y1={y(top * fraction)}
              y2={y(top * fraction)}
              stroke="currentColor"
              strokeOpacity={0.2}
            />
            <text x={PAD.left - 6} y={y(top * fraction) + 4} textAnchor="end" fill="currentColor">
              {Number.isInteger(top * fraction) ? top * fraction : (top * fraction).toFixed(1)}
            </text>
          </g>
        ))}
        {series.map((point, index) => {
          let base = 0;
          const x = PAD.left + slot * index + (slot - barW) / 2;
          return (
            <g key={point.at} data-testid="chart-bar">
              <title>
                {`${timeLabel(point.at, bucketSeconds)}: ${point.sent} sent, ` +
                  STACKED.map((s) => `${point[s.key]} ${s.label.toLowerCase()}`).join(", ")}
              </title>
              {/* A full-height transparent target so hovering any slot shows its numbers. */}
              <rect x={PAD.left + slot * index} y={PAD.top} width={slot} height={plotH} fill="transparent" />
              {STACKED.map(({ key, tone }) => {
                const value = point[key];
                if (!value) return null;
                const rect = (
                  <rect
                    key={key}
                    data-series={key}
                    x={x}
                    y={y(base + value)}
                    width={barW}
                    height={y(base) - y(base + value)}
                    fill={toneColor(tone)}
                  />
                );
                base += value;
                return rect;
              })}
            </g>
          );
        })}
        {series.length > 0 && (
          <path
            d={sentLine}
            data-testid="sent-line"
            fill="none"
            stroke="var(--mui-palette-primary-main)"
            strokeWidth={1.5}
          />
        )}
        {series.map((point, index) =>
          index % labelEvery === 0 ? (
            <text
              key={point.at}
              x={PAD.left + slot * index + slot / 2}
              y={HEIGHT - 6}
              textAnchor="middle"
              fill="currentColor"
            >
              {timeLabel(point.at, bucketSeconds)}
            </text>
          ) : null,
        )}
      </Box>
      {empty && (
        <Typography variant="body2" color="text.secondary" sx={{ textAlign: "center", mt: -14, mb: 10 }}>
          Nothing sent in this window.
        </Typography>
      )}
      <Box component="ul" aria-label="Legend" sx={{ display: "flex", gap: 2, flexWrap: "wrap", p: 0, m: 0, mt: 1 }}>
        <Legend color="var(--mui-palette-primary-main)" label={`Sent ${totals.sent}`} line />
        {STACKED.map((s) => (
          <Legend key={s.key} color={toneColor(s.tone)} label={`${s.label} ${totals[s.key]}`} />
        ))}
      </Box>
    </Box>
  );
}

function Legend({ color, label, line = false }: { color: string; label: string; line?: boolean }) {
  return (
    <Box component="li" sx={{ display: "flex", alignItems: "center", gap: 0.75, listStyle: "none" }}>
      <Box sx={{ width: 12, height: line ? 3 : 12, bgcolor: color, borderRadius: line ? 0 : 0.5 }} />
      <Typography variant="caption">{label}</Typography>
    </Box>
  );
}
