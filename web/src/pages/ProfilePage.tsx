import Box from "@mui/material/Box";
import Chip from "@mui/material/Chip";
import Paper from "@mui/material/Paper";
import Typography from "@mui/material/Typography";
import { useSession } from "../auth";
import { fullTime } from "../format";

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
        {!me.auth_required && (
          <Typography variant="body2" color="text.secondary" sx={{ mt: 3 }}>
            This server is open: bound to loopback, every request acts as the admin of the default tenant.
          </Typography>
        )}
      </Paper>
    </Box>
  );
}
