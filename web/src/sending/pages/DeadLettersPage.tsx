import Alert from "@mui/material/Alert";
import Box from "@mui/material/Box";
import Button from "@mui/material/Button";
import Checkbox from "@mui/material/Checkbox";
import Paper from "@mui/material/Paper";
import Snackbar from "@mui/material/Snackbar";
import Table from "@mui/material/Table";
import TableBody from "@mui/material/TableBody";
import TableCell from "@mui/material/TableCell";
import TableHead from "@mui/material/TableHead";
import TableRow from "@mui/material/TableRow";
import Typography from "@mui/material/Typography";
import { useCallback, useEffect, useState } from "react";
import { useSession } from "../../auth";
import { AppLink } from "../../components/AppLink";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { Loading } from "../../components/Loading";
import { fullTime } from "../../format";
import { type Delivery, sending, errorText } from "../api";
import { PageFrame } from "../components/PageFrame";

export default function DeadLettersPage() {
  const { can } = useSession();
  const admin = can("sending:manage");
  const [items, setItems] = useState<Delivery[] | null>(null);
  const [cursor, setCursor] = useState<number | null>(null);
  const [selected, setSelected] = useState<Set<number>>(new Set());
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [confirmAll, setConfirmAll] = useState(false);

  const load = useCallback(() => {
    sending.deadLetters(null).then(
      (page) => {
        setItems(page.items);
        setCursor(page.next_cursor);
        setSelected(new Set());
        setError(null);
      },
      (err: unknown) => setError(errorText(err)),
    );
  }, []);
  useEffect(load, [load]);

  const more = () =>
    cursor !== null &&
    sending.deadLetters(cursor).then(
      (page) => {
        setItems((current) => [...(current ?? []), ...page.items]);
        setCursor(page.next_cursor);
      },
      (err: unknown) => setError(errorText(err)),
    );

  const requeue = async (ids?: number[]) => {
    try {
      const answer = await sending.requeue(ids);
      setNotice(`${answer.requeued} delivery(ies) back in the queue`);
      load();
    } catch (err) {
      setError(errorText(err));
    }
  };
  const toggle = (id: number) =>
    setSelected((current) => {
      const next = new Set(current);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });

  return (
    <PageFrame
      title="Dead letters"
      actions={
        admin &&
        items &&
        items.length > 0 && (
          <>
            <Button disabled={selected.size === 0} variant="outlined" onClick={() => void requeue([...selected])}>
              Requeue selected ({selected.size})
            </Button>
            <Button variant="contained" onClick={() => setConfirmAll(true)}>
              Requeue all
            </Button>
          </>
        )
      }
    >
      <Typography variant="body2" color="text.secondary" sx={{ mb: 2 }}>
        Deliveries whose every attempt failed. Requeued ones start again with fresh attempts.
      </Typography>
      {error && (
        <Alert severity="error" sx={{ mb: 2 }}>
          {error}
        </Alert>
      )}
      {items === null ? (
        !error && <Loading label="Loading dead letters" />
      ) : items.length === 0 ? (
        <Paper sx={{ p: 4, textAlign: "center" }}>
          <Typography color="text.secondary">No dead letters: every delivery succeeded or is still trying.</Typography>
        </Paper>
      ) : (
        <Paper sx={{ overflowX: "auto" }}>
          <Table size="small" aria-label="Dead letters">
            <TableHead>
              <TableRow>
                {admin && (
                  <TableCell padding="checkbox">
                    <Checkbox
                      slotProps={{ input: { "aria-label": "Select all dead letters" } }}
                      checked={selected.size === items.length}
                      indeterminate={selected.size > 0 && selected.size < items.length}
                      onChange={(e) => setSelected(e.target.checked ? new Set(items.map((d) => d.id)) : new Set())}
                    />
                  </TableCell>
                )}
                <TableCell>Recipient</TableCell>
                <TableCell>Email</TableCell>
                <TableCell>Attempts</TableCell>
                <TableCell>Last response</TableCell>
                <TableCell>Failed</TableCell>
              </TableRow>
            </TableHead>
            <TableBody>
              {items.map((delivery) => (
                <TableRow key={delivery.id} data-testid="dead-letter" selected={selected.has(delivery.id)}>
                  {admin && (
                    <TableCell padding="checkbox">
                      <Checkbox
                        slotProps={{ input: { "aria-label": `Select ${delivery.address}` } }}
                        checked={selected.has(delivery.id)}
                        onChange={() => toggle(delivery.id)}
                      />
                    </TableCell>
                  )}
                  <TableCell sx={{ wordBreak: "break-all" }}>{delivery.address}</TableCell>
                  <TableCell>
                    <AppLink href={`/sending/emails/${delivery.email_id}`}>#{delivery.email_id}</AppLink>
                  </TableCell>
                  <TableCell>{delivery.attempts}</TableCell>
                  <TableCell sx={{ fontFamily: "monospace", fontSize: 12, maxWidth: 420, wordBreak: "break-word" }}>
                    {delivery.last_response ?? "—"}
                  </TableCell>
                  <TableCell sx={{ whiteSpace: "nowrap" }}>{fullTime(delivery.finished_at)}</TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
          {cursor !== null && (
            <Box sx={{ p: 1, textAlign: "center" }}>
              <Button onClick={() => void more()}>Load more</Button>
            </Box>
          )}
        </Paper>
      )}
      <ConfirmDialog
        open={confirmAll}
        title="Requeue every dead letter?"
        text="Every failed delivery goes back in the queue and is tried again."
        confirm="Requeue all"
        onConfirm={() => void requeue()}
        onClose={() => setConfirmAll(false)}
      />
      <Snackbar open={notice !== null} autoHideDuration={4000} onClose={() => setNotice(null)} message={notice} />
    </PageFrame>
  );
}
