import ArrowBackIcon from "@mui/icons-material/ArrowBack";
import Alert from "@mui/material/Alert";
import Box from "@mui/material/Box";
import Button from "@mui/material/Button";
import Chip from "@mui/material/Chip";
import Paper from "@mui/material/Paper";
import Typography from "@mui/material/Typography";
import { useCallback, useEffect, useState } from "react";
import { useSession } from "../../auth";
import { AppLink } from "../../components/AppLink";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { Loading } from "../../components/Loading";
import { fullTime } from "../../format";
import { type Delivery, type EmailDetail, PENDING, sending, type TimelineEvent, errorText } from "../api";
import { BatchProgress } from "../components/BatchProgress";
import { StatusChip, StatusChips } from "../components/StatusChip";
import { statusColor } from "../status";
import type { DeliveryStatus } from "../api";
import { useEmailEvents } from "../useEmailEvents";
import { subjectText } from "./ActivityPage";

function eventDetail(event: TimelineEvent): string {
  return Object.entries(event)
    .filter(([key]) => key !== "type" && key !== "at")
    .map(([key, value]) => `${key}: ${typeof value === "string" ? value : JSON.stringify(value)}`)
    .join(" · ");
}

function Timeline({ events }: { events: TimelineEvent[] }) {
  if (events.length === 0) return <Typography variant="body2">No events yet.</Typography>;
  return (
    <Box component="ol" aria-label="Event timeline" sx={{ listStyle: "none", p: 0, m: 0 }}>
      {events.map((event, index) => (
        <Box
          component="li"
          key={index}
          sx={{ display: "flex", gap: 1.5, pl: 0.5, pb: 1, position: "relative", alignItems: "flex-start" }}
        >
          <Box
            aria-hidden
            sx={{
              mt: 0.6,
              width: 10,
              height: 10,
              borderRadius: "50%",
              flexShrink: 0,
              bgcolor: statusColor(event.type as DeliveryStatus),
              outline: 2,
              outlineColor: "divider",
            }}
          />
          <Box sx={{ minWidth: 0 }}>
            <Typography variant="body2">
              <strong>{event.type}</strong>{" "}
              <Typography component="span" variant="caption" color="text.secondary">
                {fullTime(event.at)}
              </Typography>
            </Typography>
            {eventDetail(event) && (
              <Typography variant="caption" color="text.secondary" sx={{ wordBreak: "break-word" }}>
                {eventDetail(event)}
              </Typography>
            )}
          </Box>
        </Box>
      ))}
    </Box>
  );
}

function Recipient({ delivery }: { delivery: Delivery & { events: TimelineEvent[] } }) {
  return (
    <Paper variant="outlined" sx={{ p: 2 }} data-testid="recipient" aria-label={`Recipient ${delivery.address}`}>
      <Box sx={{ display: "flex", gap: 1, alignItems: "center", flexWrap: "wrap", mb: 1 }}>
        <Typography sx={{ fontWeight: 600, wordBreak: "break-all", mr: "auto" }}>{delivery.address}</Typography>
        <Chip size="small" label={delivery.kind} variant="outlined" />
        <StatusChip status={delivery.status} />
      </Box>
      <Typography variant="body2" color="text.secondary" gutterBottom>
        {delivery.attempts} attempt{delivery.attempts === 1 ? "" : "s"}
        {delivery.transport ? ` · via ${delivery.transport}` : ""}
        {delivery.next_attempt_at ? ` · next attempt ${fullTime(delivery.next_attempt_at)}` : ""}
        {delivery.provider_message_id ? ` · ${delivery.provider_message_id}` : ""}
      </Typography>
      {delivery.last_response && (
        <Typography variant="body2" sx={{ fontFamily: "monospace", fontSize: 12, mb: 1, wordBreak: "break-word" }}>
          {delivery.last_response}
        </Typography>
      )}
      <Timeline events={delivery.events} />
    </Paper>
  );
}

export default function EmailDetailPage({ id }: { id: number }) {
  const { can } = useSession();
  const [email, setEmail] = useState<EmailDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [confirm, setConfirm] = useState(false);

  const load = useCallback(() => {
    sending.email(id).then(
      (answer) => {
        setEmail(answer);
        setError(null);
      },
      (err: unknown) => setError(errorText(err)),
    );
  }, [id]);
  useEffect(load, [load]);
  useEmailEvents((events) => {
    if (events.length === 0 || events.some((event) => event.data.email_id === id)) load();
  }, 500);

  const cancel = async () => {
    try {
      await sending.cancel(id);
      load();
    } catch (err) {
      setError(errorText(err));
    }
  };

  const pending = email ? PENDING.reduce((sum, status) => sum + (email.counts[status] ?? 0), 0) : 0;
  return (
    <Box sx={{ p: { xs: 1.5, sm: 3 }, maxWidth: 1100, mx: "auto" }}>
      <AppLink href="/sending" sx={{ display: "inline-flex", alignItems: "center", gap: 0.5, mb: 1 }}>
        <ArrowBackIcon fontSize="small" /> Activity
      </AppLink>
      {error && (
        <Alert severity="error" sx={{ mb: 2 }}>
          {error}
        </Alert>
      )}
      {!email ? (
        !error && <Loading label="Loading email" />
      ) : (
        <>
          <Paper sx={{ p: { xs: 2, sm: 3 }, mb: 2 }}>
            <Box sx={{ display: "flex", gap: 1, alignItems: "flex-start", flexWrap: "wrap" }}>
              <Typography component="h1" variant="h5" sx={{ mr: "auto", wordBreak: "break-word" }}>
                {subjectText(email)}
              </Typography>
              {can("emails:send") && pending > 0 && (
                <Button color="error" variant="outlined" onClick={() => setConfirm(true)}>
                  Cancel sending
                </Button>
              )}
            </Box>
            <Typography variant="body2" color="text.secondary">
              {email.batch ? "Batch" : "Email"} {email.id} from {email.from} · created {fullTime(email.created_at)}
              {email.send_at ? ` · scheduled for ${fullTime(email.send_at)}` : ""}
              {email.template_id ? ` · template ${email.template_id} v${email.template_version ?? "?"}` : ""}
            </Typography>
            <Box sx={{ display: "flex", gap: 0.5, flexWrap: "wrap", mt: 1 }}>
              <StatusChips counts={email.counts} />
              {email.tags.map((tag) => (
                <Chip key={tag} size="small" label={tag} />
              ))}
            </Box>
            {(email.batch || email.recipients.length > 1) && (
              <Box sx={{ mt: 2 }}>
                <BatchProgress
                  counts={email.counts}
                  total={Object.values(email.counts).reduce((sum, n) => sum + (n ?? 0), 0)}
                />
              </Box>
            )}
          </Paper>
          <Typography component="h2" variant="h6" gutterBottom>
            Recipients
          </Typography>
          <Box sx={{ display: "grid", gap: 1.5, gridTemplateColumns: { xs: "1fr", md: "1fr 1fr" } }}>
            {email.recipients.map((delivery) => (
              <Recipient key={delivery.id} delivery={delivery} />
            ))}
          </Box>
        </>
      )}
      <ConfirmDialog
        open={confirm}
        title="Cancel sending?"
        text={`The ${pending} recipient(s) not handed to a transport yet will not get this email.`}
        confirm="Cancel sending"
        onConfirm={() => void cancel()}
        onClose={() => setConfirm(false)}
      />
    </Box>
  );
}
