import Alert from "@mui/material/Alert";
import Box from "@mui/material/Box";
import Button from "@mui/material/Button";
import Chip from "@mui/material/Chip";
import Paper from "@mui/material/Paper";
import TextField from "@mui/material/TextField";
import Typography from "@mui/material/Typography";
import { type FormEvent, useState } from "react";
import { api, setTokens } from "../api";
import { useSession } from "../auth";
import { fullTime } from "../format";

function PasswordForm() {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [repeat, setRepeat] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState(false);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setDone(false);
    if (next !== repeat) {
      setError("The new passwords differ.");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      // Other sessions end; this one carries on with the fresh tokens.
      setTokens(await api.changePassword(current, next));
      setCurrent("");
      setNext("");
      setRepeat("");
      setDone(true);
    } catch (failure) {
      setError(failure instanceof Error ? failure.message : String(failure));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Box
      component="form"
      onSubmit={submit}
      aria-label="Change password"
      sx={{ display: "grid", gap: 1.5, maxWidth: 360 }}
    >
      <Typography component="h2" variant="subtitle1" sx={{ mt: 3 }}>
        Change password
      </Typography>
      {error && <Alert severity="error">{error}</Alert>}
      {done && <Alert severity="success">Password changed; your other sessions are signed out.</Alert>}
      <TextField
        label="Current password"
        type="password"
        autoComplete="current-password"
        size="small"
        required
        value={current}
        onChange={(e) => setCurrent(e.target.value)}
      />
      <TextField
        label="New password"
        type="password"
        autoComplete="new-password"
        size="small"
        required
        value={next}
        onChange={(e) => setNext(e.target.value)}
      />
      <TextField
        label="New password again"
        type="password"
        autoComplete="new-password"
        size="small"
        required
        value={repeat}
        onChange={(e) => setRepeat(e.target.value)}
      />
      <Button type="submit" variant="contained" disabled={busy} sx={{ justifySelf: "start" }}>
        {busy ? "Changing…" : "Change password"}
      </Button>
    </Box>
  );
}

export default function ProfilePage() {
  const { me } = useSession();
  if (!me) return null;
  const rows: [string, string][] = [
    ["Signed in as", me.user?.email ?? (me.via === "open" ? "nobody: open access on loopback" : "an API key")],
    ["Name", me.user?.name || "—"],
    ["Role", me.role.replace("_", " ")],
    ["Tenant", `${me.tenant.name} (${me.tenant.slug})`],
    ["Last sign-in", me.user?.last_login_at ? fullTime(me.user.last_login_at) : "—"],
  ];
  return (
    <Box sx={{ p: { xs: 1.5, sm: 3 }, overflow: "auto" }}>
      <Paper sx={{ p: 3, maxWidth: 640 }}>
        <Typography component="h1" variant="h5" gutterBottom>
          Profile
        </Typography>
        <Box
          component="dl"
          sx={{
            display: "grid",
            gridTemplateColumns: "auto 1fr",
            columnGap: 2,
            rowGap: 1,
            "& dt": { color: "text.secondary" },
            "& dd": { m: 0 },
          }}
        >
          {rows.map(([label, value]) => (
            <Box key={label} sx={{ display: "contents" }}>
              <dt>{label}</dt>
              <dd>{value}</dd>
            </Box>
          ))}
        </Box>
        <Typography component="h2" variant="subtitle1" sx={{ mt: 3, mb: 1 }}>
          What your role allows
        </Typography>
        <Box sx={{ display: "flex", gap: 1, flexWrap: "wrap" }}>
          {me.permissions.map((permission) => (
            <Chip key={permission} label={permission} size="small" />
          ))}
        </Box>
        {me.user && <PasswordForm />}
        {!me.auth_required && (
          <Typography variant="body2" color="text.secondary" sx={{ mt: 3 }}>
            This server is open: bound to loopback, every request acts as the admin of the default tenant.
          </Typography>
        )}
      </Paper>
    </Box>
  );
}
