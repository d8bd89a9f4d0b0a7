import Alert from "@mui/material/Alert";
import Box from "@mui/material/Box";
import Button from "@mui/material/Button";
import Dialog from "@mui/material/Dialog";
import DialogActions from "@mui/material/DialogActions";
import DialogContent from "@mui/material/DialogContent";
import DialogContentText from "@mui/material/DialogContentText";
import DialogTitle from "@mui/material/DialogTitle";
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
import { api, type ApiKey, type Role, ROLES } from "../api";
import { useSession } from "../auth";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { Loading } from "../components/Loading";
import { fullTime } from "../format";

export default function ApiKeysPage() {
  const { me } = useSession();
  const [keys, setKeys] = useState<ApiKey[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role>("developer");
  const [created, setCreated] = useState<ApiKey | null>(null);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const myRank = ROLES.indexOf(me?.role ?? "viewer");
  const roles = ROLES.slice(0, myRank + 1);

  const load = useCallback(() => {
    api.keys().then(
      (answer) => setKeys(answer.items),
      (err: Error) => setError(err.message),
    );
  }, []);
  useEffect(load, [load]);

  const create = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    try {
      setCreated(await api.createKey(name.trim(), role));
      setName("");
      load();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };
  const revoke = async (key: ApiKey) => {
    try {
      await api.revokeKey(key.id);
      load();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };

  return (
    <Box sx={{ p: { xs: 1.5, sm: 3 }, overflow: "auto" }}>
      <Paper sx={{ p: 3, maxWidth: 960 }}>
        <Typography component="h1" variant="h5" gutterBottom>
          API keys
        </Typography>
        <Typography variant="body2" color="text.secondary" gutterBottom>
          Send a key as <code>Authorization: Bearer &lt;key&gt;</code>. A key is shown once, when it is created.
        </Typography>
        {error && (
          <Alert severity="error" sx={{ my: 1 }}>
            {error}
          </Alert>
        )}
        <Box
          component="form"
          onSubmit={create}
          sx={{ display: "flex", gap: 1, my: 2, flexWrap: "wrap" }}
          aria-label="New API key"
        >
          <TextField
            label="Name"
            size="small"
            required
            value={name}
            onChange={(event) => setName(event.target.value)}
          />
          <TextField
            select
            label="Role"
            size="small"
            value={role}
            onChange={(event) => setRole(event.target.value as Role)}
            sx={{ minWidth: 150 }}
          >
            {roles.map((r) => (
              <MenuItem key={r} value={r}>
                {r.replace("_", " ")}
              </MenuItem>
            ))}
          </TextField>
          <Button type="submit" variant="contained">
            Create key
          </Button>
        </Box>
        {keys === null ? (
          <Loading label="Loading keys" />
        ) : keys.length === 0 ? (
          <Typography color="text.secondary">No API keys yet.</Typography>
        ) : (
          <Box sx={{ overflowX: "auto" }}>
            <Table size="small" aria-label="API keys">
              <TableHead>
                <TableRow>
                  <TableCell>Name</TableCell>
                  <TableCell>Key</TableCell>
                  <TableCell>Role</TableCell>
                  <TableCell>Created</TableCell>
                  <TableCell>Last used</TableCell>
                  <TableCell />
                </TableRow>
              </TableHead>
              <TableBody>
                {keys.map((key) => (
                  <TableRow key={key.id}>
                    <TableCell>{key.name}</TableCell>
                    <TableCell sx={{ fontFamily: "monospace" }}>{key.prefix}…</TableCell>
                    <TableCell>{key.role.replace("_", " ")}</TableCell>
                    <TableCell>{fullTime(key.created_at)}</TableCell>
                    <TableCell>{key.last_used_at ? fullTime(key.last_used_at) : "never"}</TableCell>
                    <TableCell align="right">
                      {key.revoked_at ? (
                        <Typography variant="body2" color="text.secondary">
                          revoked
                        </Typography>
                      ) : (
                        <Button
                          size="small"
                          color="error"
                          onClick={() => setRevoking(key)}
                          aria-label={`Revoke ${key.name}`}
                        >
                          Revoke
                        </Button>
                      )}
                    </TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
          </Box>
        )}
      </Paper>
      <Dialog
        open={created !== null}
        onClose={() => setCreated(null)}
        aria-labelledby="key-title"
        fullWidth
        maxWidth="sm"
      >
        <DialogTitle id="key-title">Your new API key</DialogTitle>
        <DialogContent>
          <DialogContentText gutterBottom>Copy it now: it is not shown again.</DialogContentText>
          <TextField
            value={created?.key ?? ""}
            fullWidth
            slotProps={{
              htmlInput: { readOnly: true, "aria-label": "New API key", style: { fontFamily: "monospace" } },
            }}
            onFocus={(event) => event.target.select()}
          />
        </DialogContent>
        <DialogActions>
          <Button onClick={() => void navigator.clipboard?.writeText(created?.key ?? "")}>Copy</Button>
          <Button variant="contained" onClick={() => setCreated(null)}>
            Done
          </Button>
        </DialogActions>
      </Dialog>
      <ConfirmDialog
        open={revoking !== null}
        title={`Revoke “${revoking?.name ?? ""}”?`}
        text="Requests with this key are refused from now on."
        confirm="Revoke"
        onConfirm={() => revoking && void revoke(revoking)}
        onClose={() => setRevoking(null)}
      />
    </Box>
  );
}
