import Alert from "@mui/material/Alert";
import Box from "@mui/material/Box";
import Button from "@mui/material/Button";
import MenuItem from "@mui/material/MenuItem";
import Paper from "@mui/material/Paper";
import Switch from "@mui/material/Switch";
import Table from "@mui/material/Table";
import TableBody from "@mui/material/TableBody";
import TableCell from "@mui/material/TableCell";
import TableHead from "@mui/material/TableHead";
import TableRow from "@mui/material/TableRow";
import TextField from "@mui/material/TextField";
import Typography from "@mui/material/Typography";
import { type FormEvent, useCallback, useEffect, useState } from "react";
import { api, type Role, ROLES, type User } from "../api";
import { useSession } from "../auth";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { Loading } from "../components/Loading";
import { fullTime } from "../format";

const EMPTY = { email: "", name: "", password: "", role: "viewer" as Role };

export default function UsersPage() {
  const { me } = useSession();
  const [users, setUsers] = useState<User[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [draft, setDraft] = useState(EMPTY);
  const [removing, setRemoving] = useState<User | null>(null);
  const roles = ROLES.slice(0, ROLES.indexOf(me?.role ?? "viewer") + 1);

  const load = useCallback(() => {
    api.users().then(
      (answer) => setUsers(answer.items),
      (err: Error) => setError(err.message),
    );
  }, []);
  useEffect(load, [load]);

  const attempt = async (work: () => Promise<unknown>) => {
    setError(null);
    try {
      await work();
      load();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  };
  const create = (event: FormEvent) => {
    event.preventDefault();
    void attempt(async () => {
      await api.createUser(draft);
      setDraft(EMPTY);
    });
  };

  return (
    <Box sx={{ p: { xs: 1.5, sm: 3 }, overflow: "auto" }}>
      <Paper sx={{ p: 3, maxWidth: 1040 }}>
        <Typography component="h1" variant="h5" gutterBottom>
          Users of {me?.tenant.name}
        </Typography>
        {error && (
          <Alert severity="error" sx={{ my: 1 }}>
            {error}
          </Alert>
        )}
        <Box
          component="form"
          onSubmit={create}
          aria-label="New user"
          sx={{ display: "flex", gap: 1, my: 2, flexWrap: "wrap" }}
        >
          <TextField
            label="Email"
            type="email"
            size="small"
            required
            value={draft.email}
            onChange={(e) => setDraft({ ...draft, email: e.target.value })}
          />
          <TextField
            label="Name"
            size="small"
            value={draft.name}
            onChange={(e) => setDraft({ ...draft, name: e.target.value })}
          />
          <TextField
            label="Password"
            type="password"
            size="small"
            required
            autoComplete="new-password"
            value={draft.password}
            onChange={(e) => setDraft({ ...draft, password: e.target.value })}
          />
          <TextField
            select
            label="Role"
            size="small"
            value={draft.role}
            onChange={(e) => setDraft({ ...draft, role: e.target.value as Role })}
            sx={{ minWidth: 140 }}
          >
            {roles.map((r) => (
              <MenuItem key={r} value={r}>
                {r.replace("_", " ")}
              </MenuItem>
            ))}
          </TextField>
          <Button type="submit" variant="contained">
            Add user
          </Button>
        </Box>
        {users === null ? (
          <Loading label="Loading users" />
        ) : (
          <Box sx={{ overflowX: "auto" }}>
            <Table size="small" aria-label="Users">
              <TableHead>
                <TableRow>
                  <TableCell>Email</TableCell>
                  <TableCell>Name</TableCell>
                  <TableCell>Role</TableCell>
                  <TableCell>Active</TableCell>
                  <TableCell>Last sign-in</TableCell>
                  <TableCell />
                </TableRow>
              </TableHead>
              <TableBody>
                {users.map((user) => {
                  const self = user.id === me?.user?.id;
                  return (
                    <TableRow key={user.id}>
                      <TableCell>{user.email}</TableCell>
                      <TableCell>{user.name || "—"}</TableCell>
                      <TableCell>
                        <TextField
                          select
                          size="small"
                          variant="standard"
                          value={user.role}
                          disabled={self}
                          onChange={(e) =>
                            void attempt(() => api.updateUser(user.id, { role: e.target.value as Role }))
                          }
                          slotProps={{ htmlInput: { "aria-label": `Role of ${user.email}` } }}
                        >
                          {ROLES.map((r) => (
                            <MenuItem key={r} value={r} disabled={!roles.includes(r)}>
                              {r.replace("_", " ")}
                            </MenuItem>
                          ))}
                        </TextField>
                      </TableCell>
                      <TableCell>
                        <Switch
                          checked={user.is_active}
                          disabled={self}
                          onChange={(e) => void attempt(() => api.updateUser(user.id, { is_active: e.target.checked }))}
                          slotProps={{ input: { "aria-label": `${user.email} is active` } }}
                        />
                      </TableCell>
                      <TableCell>{user.last_login_at ? fullTime(user.last_login_at) : "never"}</TableCell>
                      <TableCell align="right">
                        {!self && (
                          <Button
                            size="small"
                            color="error"
                            onClick={() => setRemoving(user)}
                            aria-label={`Delete ${user.email}`}
                          >
                            Delete
                          </Button>
                        )}
                      </TableCell>
                    </TableRow>
                  );
                })}
              </TableBody>
            </Table>
          </Box>
        )}
      </Paper>
      <ConfirmDialog
        open={removing !== null}
        title={`Delete ${removing?.email ?? ""}?`}
        text="The user can no longer sign in; their API keys stop working."
        confirm="Delete"
        onConfirm={() => removing && void attempt(() => api.deleteUser(removing.id))}
        onClose={() => setRemoving(null)}
      />
    </Box>
  );
}
