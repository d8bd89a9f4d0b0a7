import Alert from "@mui/material/Alert";
import Box from "@mui/material/Box";
import Button from "@mui/material/Button";
import Chip from "@mui/material/Chip";
import List from "@mui/material/List";
import ListItemButton from "@mui/material/ListItemButton";
import Paper from "@mui/material/Paper";
import Typography from "@mui/material/Typography";
import { useCallback, useEffect, useState } from "react";
import { relativeTime } from "../../format";
import { navigate } from "../../router";
import { type SentEmail, sending, errorText } from "../api";
import { BatchProgress } from "../components/BatchProgress";
import { PageFrame } from "../components/PageFrame";
import { StatusChips } from "../components/StatusChip";
import { Loading } from "../../components/Loading";
import { useEmailEvents } from "../useEmailEvents";

/** The fresh first page merged over what is loaded: changed rows replaced, new ones on top. */
export function mergeEmails(current: SentEmail[], head: SentEmail[]): SentEmail[] {
  const fresh = new Map(head.map((email) => [email.id, email]));
  const known = new Set(current.map((email) => email.id));
  const added = head.filter((email) => !known.has(email.id));
  return [...added, ...current.map((email) => fresh.get(email.id) ?? email)];
}

function recipientsText(email: SentEmail): string {
  if (email.batch) return `${email.total} recipients`;
  const all = [...email.to, ...email.cc];
  const first = all[0] ?? "(no recipients)";
  return all.length > 1 ? `${first} +${all.length - 1}` : first;
}

/** Template emails have no subject of their own until rendered: name the template instead. */
export function subjectText(email: SentEmail): string {
  if (email.subject) return email.subject;
  return email.template_id ? `Template ${email.template_id} v${email.template_version ?? "?"}` : "(no subject)";
}

export default function ActivityPage() {
  const [items, setItems] = useState<SentEmail[] | null>(null);
  const [cursor, setCursor] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(() => {
    sending.emails(null).then(
      (page) => {
        setItems(page.items);
        setCursor(page.next_cursor);
        setError(null);
      },
      (err: unknown) => setError(errorText(err)),
    );
  }, []);
  useEffect(load, [load]);

  const status = useEmailEvents(() => {
    sending.emails(null).then(
      (page) => setItems((current) => (current ? mergeEmails(current, page.items) : page.items)),
      () => undefined,
    );
  });

  const more = () => {
    if (cursor === null) return;
    sending.emails(cursor).then(
      (page) => {
        setItems((current) => [...(current ?? []), ...page.items]);
        setCursor(page.next_cursor);
      },
      (err: unknown) => setError(errorText(err)),
    );
  };

  return (
    <PageFrame
      title="Activity"
      actions={
        <Chip
          size="small"
          variant="outlined"
          color={status === "live" ? "success" : "default"}
          label={status === "live" ? "Live" : status === "connecting" ? "Connecting…" : "Offline"}
          aria-label={`Live updates: ${status}`}
        />
      }
    >
      {error && (
        <Alert severity="error" sx={{ mb: 2 }} action={<Button onClick={load}>Retry</Button>}>
          {error}
        </Alert>
      )}
      {items === null ? (
        !error && <Loading label="Loading sent email" />
      ) : items.length === 0 ? (
        <Paper sx={{ p: 4, textAlign: "center" }}>
          <Typography color="text.secondary">
            Nothing sent yet. Emails and batches appear here as they are sent.
          </Typography>
        </Paper>
      ) : (
        <Paper>
          <List aria-label="Sent emails" disablePadding>
            {items.map((email) => (
              <ListItemButton
                key={email.id}
                divider
                data-testid="email-row"
                aria-label={`${subjectText(email)} to ${recipientsText(email)}`}
                href={`/sending/emails/${email.id}`}
                component="a"
                onClick={(event: React.MouseEvent) => {
                  if (event.button !== 0 || event.metaKey || event.ctrlKey) return;
                  event.preventDefault();
                  navigate(`/sending/emails/${email.id}`);
                }}
                sx={{ display: "block", py: 1.25 }}
              >
                <Box sx={{ display: "flex", gap: 1, alignItems: "baseline", flexWrap: "wrap" }}>
                  {email.batch && <Chip size="small" label="batch" color="primary" variant="outlined" />}
                  <Typography sx={{ fontWeight: 600, mr: "auto", minWidth: 0 }} noWrap>
                    {subjectText(email)}
                  </Typography>
                  <Typography variant="caption" color="text.secondary" title={email.created_at}>
                    {relativeTime(email.created_at)}
                  </Typography>
                </Box>
                <Typography variant="body2" color="text.secondary" noWrap>
                  {email.from} → {recipientsText(email)}
                  {email.send_at ? ` · scheduled ${new Date(email.send_at).toLocaleString()}` : ""}
                </Typography>
                <Box sx={{ display: "flex", gap: 0.5, flexWrap: "wrap", mt: 0.5, alignItems: "center" }}>
                  <StatusChips counts={email.counts} />
                  {email.tags.map((tag) => (
                    <Chip key={tag} size="small" label={tag} />
                  ))}
                </Box>
                {email.batch && (
                  <Box sx={{ mt: 1, maxWidth: 560 }}>
                    <BatchProgress
                      counts={email.counts}
                      total={email.total}
                      label={`Progress of batch ${email.id}`}
                      dense
                    />
                  </Box>
                )}
              </ListItemButton>
            ))}
          </List>
          {cursor !== null && (
            <Box sx={{ p: 1, textAlign: "center" }}>
              <Button onClick={more}>Load older</Button>
            </Box>
          )}
        </Paper>
      )}
    </PageFrame>
  );
}
