import Alert from "@mui/material/Alert";
import Box from "@mui/material/Box";
import Paper from "@mui/material/Paper";
import ToggleButton from "@mui/material/ToggleButton";
import ToggleButtonGroup from "@mui/material/ToggleButtonGroup";
import Typography from "@mui/material/Typography";
import { useCallback, useEffect, useState } from "react";
import { AppLink } from "../../components/AppLink";
import { Loading } from "../../components/Loading";
import { type Metrics, sending, errorText } from "../api";
import { PageFrame } from "../components/PageFrame";
import { SeriesChart } from "../components/SeriesChart";
import { toneColor, type Tone } from "../status";
import { useEmailEvents } from "../useEmailEvents";

const WINDOWS = [
  { hours: 1, label: "1 h" },
  { hours: 6, label: "6 h" },
  { hours: 24, label: "24 h" },
  { hours: 168, label: "7 d" },
];

function Stat({ label, value, tone, href }: { label: string; value: number; tone?: Tone; href?: string }) {
  const inner = (
    <>
      <Typography variant="caption" color="text.secondary" component="div">
        {label}
      </Typography>
      <Typography variant="h5" component="div" sx={{ color: tone ? toneColor(tone) : undefined, fontWeight: 600 }}>
        {value.toLocaleString()}
      </Typography>
    </>
  );
  return (
    <Paper variant="outlined" sx={{ p: 1.5 }} role="group" aria-label={`${label}: ${value}`} data-testid="stat">
      {href ? (
        <AppLink href={href} underline="none" color="inherit">
          {inner}
        </AppLink>
      ) : (
        inner
      )}
    </Paper>
  );
}

export default function OverviewPage() {
  const [hours, setHours] = useState(1);
  const [metrics, setMetrics] = useState<Metrics | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(() => {
    sending.metrics(hours).then(
      (answer) => {
        setMetrics(answer);
        setError(null);
      },
      (err: unknown) => setError(errorText(err)),
    );
  }, [hours]);
  useEffect(load, [load]);
  // Figures move with every delivery: re-read at most every three seconds while mail flows.
  useEmailEvents(load, 3000);

  return (
    <PageFrame
      title="Overview"
      actions={
        <ToggleButtonGroup
          size="small"
          exclusive
          value={hours}
          onChange={(_, value: number | null) => value && setHours(value)}
          aria-label="Time window"
        >
          {WINDOWS.map((w) => (
            <ToggleButton key={w.hours} value={w.hours} aria-label={`Last ${w.label}`}>
              {w.label}
            </ToggleButton>
          ))}
        </ToggleButtonGroup>
      }
    >
      {error && (
        <Alert severity="error" sx={{ mb: 2 }}>
          {error}
        </Alert>
      )}
      {!metrics ? (
        !error && <Loading label="Loading figures" />
      ) : (
        <>
          <Box
            sx={{
              display: "grid",
              gap: 1.5,
              mb: 2,
              gridTemplateColumns: { xs: "repeat(2, 1fr)", sm: "repeat(3, 1fr)", md: "repeat(5, 1fr)" },
            }}
          >
            <Stat label="Sent" value={metrics.sent} />
            <Stat label="Delivered" value={metrics.delivered} tone="success" />
            <Stat label="Deferred" value={metrics.deferred} tone="info" />
            <Stat label="Bounced" value={metrics.bounced} tone="warning" />
            <Stat label="Failed" value={metrics.failed} tone="error" />
            <Stat label="Complained" value={metrics.complained} tone="warning" />
            <Stat label="Suppressed" value={metrics.suppressed} />
            <Stat label="Queue depth" value={metrics.queue_depth} />
            <Stat
              label="Dead letters"
              value={metrics.dead_letters}
              tone={metrics.dead_letters ? "error" : undefined}
              href="/sending/dead-letters"
            />
          </Box>
          <Paper sx={{ p: { xs: 1.5, sm: 2.5 } }}>
            <Typography component="h2" variant="subtitle1" gutterBottom>
              Per {metrics.bucket_seconds >= 3600 ? "hour" : "minute"}, last{" "}
              {WINDOWS.find((w) => w.hours === hours)?.label ?? `${hours} h`}
            </Typography>
            <SeriesChart series={metrics.series} bucketSeconds={metrics.bucket_seconds} />
          </Paper>
        </>
      )}
    </PageFrame>
  );
}
