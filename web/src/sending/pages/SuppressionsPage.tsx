import Alert from "@mui/material/Alert";
import Box from "@mui/material/Box";
import Button from "@mui/material/Button";
import MenuItem from "@mui/material/MenuItem";
import Paper from "@mui/material/Paper";
import Table from "@mui/material/Table";
import TableBody from "@mui/material/TableBody";
import TableCell from "@mui/material/TableCell";
import TableHead from "@mui/material/TableHead";
import TableRow from "@mui/material/TableRow";
import TextField from "@mui/material/TextField";
import Typography from "@mui/material/Typography";
import { type FormEvent, useCallback, useEffect, useState } from "react";
import { ApiError } from "../../api";
import { useSession } from "../../auth";
import { ConfirmDialog } from "../../components/ConfirmDialog";
import { Loading } from "../../components/Loading";
import { fullTime } from "../../format";
import { sending, type Suppression, errorText } from "../api";
import { PageFrame } from "../components/PageFrame";

const REASONS: Suppression["reason"][] = ["manual", "hard_bounce", "complaint", "unsubscribe"];
const reasonText = (reason: string) => reason.replace("_", " ");

export default function SuppressionsPage() {
  const { can } = useSession();
  const canEdit = can("emails:send");
  const [items, setItems] = useState<Suppression[] | null>(null);
  const [total, setTotal] = useState(0);
  const [cursor, setCursor] = useState<number | null>(null);
  const [reason, setReason] = useState<string>("");
  const [search, setSearch] = useState("");
  const [found, setFound] = useState<Suppression | null | "none">(null);
  const [error, setError] = useState<string | null>(null);
  const [address, setAddress] = useState("");
  const [newReason, setNewReason] = useState<Suppression["reason"]>("manual");
  const [detail, setDetail] = useState("");
  const [removing, setRemoving] = useState<string | null>(null);

  const load = useCallback(() => {
    sending.suppressions(null, reason || null).then(
      (page) => {
        setItems(page.items);
        setTotal(page.total);
        setCursor(page.next_cursor);
        setError(null);
      },
      (err: unknown) => setError(errorText(err)),
    );
  }, [reason]);
  useEffect(load, [load]);

  const more = () => {
    if (cursor === null) return;
    sending.suppressions(cursor, reason || null).then(
      (page) => {
        setItems((current) => [...(current ?? []), ...page.items]);
        setCursor(page.next_cursor);
      },
      (err: unknown) => setError(errorText(err)),
    );
  };

  // The API looks addresses up exactly; a partial word filters the rows already loaded.
  const lookup = async (event: FormEvent) => {
    event.preventDefault();
    const wanted = search.trim();
    if (!wanted.includes("@")) return setFound(null);
    try {
      setFound(await sending.suppression(wanted));
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) setFound("none");
      else setError(errorText(err));
    }
  };

  const add = async (event: FormEvent) => {
    event.preventDefault();
    try {
      await sending.suppress(address.trim(), newReason, detail.trim());
      setAddress("");
      setDetail("");
      setError(null);
      load();
    } catch (err) {
      setError(errorText(err));
    }
  };
  const remove = async (target: string) => {
    try {
      await sending.unsuppress(target);
      if (found !== null && found !== "none" && found.address === target) setFound(null);
      load();
    } catch (err) {
      setError(errorText(err));
    }
  };

  const needle = search.trim().toLowerCase();
  const shown = (items ?? []).filter((item) => !needle || item.address.toLowerCase().includes(needle));
  const rows = found && found !== "none" && !shown.some((s) => s.address === found.address) ? [found, ...shown] : shown;

  return (
    <PageFrame title="Suppressions">
      <Typography variant="body2" color="text.secondary" sx={{ mb: 2 }}>
        Postroom sends nothing to these addresses. Hard bounces, complaints and unsubscribes land here by themselves.
      </Typography>
      {error && (
        <Alert severity="error" sx={{ mb: 2 }} onClose={() => setError(null)}>
          {error}
        </Alert>
      )}
      {canEdit && (
        <Paper sx={{ p: 2, mb: 2 }}>
          <Box
            component="form"
            onSubmit={add}
            aria-label="Add suppression"
            sx={{ display: "flex", gap: 1, flexWrap: "wrap" }}
          >
            <TextField
              label="Address to suppress"
              size="small"
              required
              type="email"
              value={address}
              onChange={(e) => setAddress(e.target.value)}
              sx={{ flex: "1 1 220px" }}
            />
            <TextField
              select
              label="Reason"
              size="small"
              value={newReason}
              onChange={(e) => setNewReason(e.target.value as Suppression["reason"])}
              sx={{ minWidth: 160 }}
            >
              {REASONS.map((r) => (
                <MenuItem key={r} value={r}>
                  {reasonText(r)}
                </MenuItem>
              ))}
            </TextField>
            <TextField
              label="Note"
              size="small"
              value={detail}
              onChange={(e) => setDetail(e.target.value)}
              sx={{ flex: "1 1 160px" }}
            />
            <Button type="submit" variant="contained">
              Suppress
            </Button>
          </Box>
        </Paper>
      )}
      <Box component="form" onSubmit={lookup} sx={{ display: "flex", gap: 1, mb: 2, flexWrap: "wrap" }} role="search">
        <TextField
          label="Search addresses"
          size="small"
          value={search}
          onChange={(e) => {
            setSearch(e.target.value);
            setFound(null);
          }}
          helperText="Filters the list; press Enter on a full address to look it up"
          sx={{ flex: "1 1 260px" }}
        />
        <TextField
          select
          label="Reason"
          size="small"
          value={reason}
          onChange={(e) => setReason(e.target.value)}
          sx={{ minWidth: 160 }}
          slotProps={{ select: { displayEmpty: true }, inputLabel: { shrink: true } }}
        >
          <MenuItem value="">any</MenuItem>
          {REASONS.map((r) => (
            <MenuItem key={r} value={r}>
              {reasonText(r)}
            </MenuItem>
          ))}
        </TextField>
      </Box>
      {found === "none" && (
        <Alert severity="info" sx={{ mb: 2 }}>
          {search.trim()} is not suppressed.
        </Alert>
      )}
      {items === null ? (
        !error && <Loading label="Loading suppressions" />
      ) : rows.length === 0 ? (
        <Paper sx={{ p: 4, textAlign: "center" }}>
          <Typography color="text.secondary">
            {items.length === 0 ? "No suppressed addresses." : "No loaded address matches."}
          </Typography>
        </Paper>
      ) : (
        <Paper sx={{ overflowX: "auto" }}>
          <Table size="small" aria-label="Suppressed addresses">
            <TableHead>
              <TableRow>
                <TableCell>Address</TableCell>
                <TableCell>Reason</TableCell>
                <TableCell>Note</TableCell>
                <TableCell>Since</TableCell>
                {canEdit && <TableCell />}
              </TableRow>
            </TableHead>
            <TableBody>
              {rows.map((item) => (
                <TableRow key={item.address} data-testid="suppression">
                  <TableCell sx={{ wordBreak: "break-all" }}>{item.address}</TableCell>
                  <TableCell>{reasonText(item.reason)}</TableCell>
                  <TableCell sx={{ wordBreak: "break-word" }}>{item.detail}</TableCell>
                  <TableCell sx={{ whiteSpace: "nowrap" }}>{fullTime(item.created_at)}</TableCell>
                  {canEdit && (
                    <TableCell align="right">
                      <Button
                        size="small"
                        color="error"
                        aria-label={`Remove ${item.address}`}
                        onClick={() => setRemoving(item.address)}
                      >
                        Remove
                      </Button>
                    </TableCell>
                  )}
                </TableRow>
              ))}
            </TableBody>
          </Table>
          <Box sx={{ p: 1, display: "flex", alignItems: "center", gap: 1 }}>
            <Typography variant="caption" color="text.secondary" sx={{ mr: "auto" }}>
              {items.length} of {total} shown
            </Typography>
            {cursor !== null && <Button onClick={more}>Load more</Button>}
          </Box>
        </Paper>
      )}
      <ConfirmDialog
        open={removing !== null}
        title={`Remove ${removing ?? ""}?`}
        text="Mail to this address will be sent again."
        confirm="Remove"
        onConfirm={() => removing && void remove(removing)}
        onClose={() => setRemoving(null)}
      />
    </PageFrame>
  );
}
